import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import type { OrganizationEntity } from '#persistence';
import { PageMetaDto } from '../common/pagination.dto.js';

export class CreateOrganizationDto {
  @ApiProperty({ example: 'acme', description: 'a-z, 0-9 and -, at most 100; unique' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,99}$/, { message: 'slug must be a-z, 0-9 and -, starting with a letter or digit, at most 100' })
  slug: string;

  @ApiPropertyOptional({ example: 'Acme Corp', description: 'Default: the slug' }) @IsOptional() @IsString() @Length(1, 200) name?: string;
}

export class OrganizationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'acme' }) slug: string;
  @ApiProperty({ example: 'Acme Corp' }) name: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: Date;
}

export class OrganizationPageDto extends PageMetaDto {
  @ApiProperty({ type: [OrganizationDto] }) items: OrganizationDto[];
}

export function toOrganizationDto({ id, slug, name, createdAt }: OrganizationEntity): OrganizationDto {
  return { id, slug, name, createdAt };
}
