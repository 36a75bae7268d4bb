import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { ROLES, type Role } from '#core';
import type { UserEntity } from '#persistence';
import { PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

const ORGANIZATION_SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;
const ORGANIZATION_DOC = 'Slug of another organization: platform admins (organization `global`) only; default the caller\'s';

export class CreateUserDto {
  @ApiProperty({ example: 'ada@example.com' }) @IsEmail() @MaxLength(320) email: string;
  @ApiProperty({ example: 'correct-horse-battery', minLength: 8, description: 'Initial password (at least 8 characters)' })
  @IsString()
  @Length(8, 200)
  password: string;

  @ApiProperty({ enum: ROLES, example: 'operator' }) @IsIn(ROLES) role: Role;
  @ApiPropertyOptional({ example: 'Ada Lovelace' }) @IsOptional() @IsString() @Length(1, 200) displayName?: string;
  @ApiPropertyOptional({ example: 'acme', description: ORGANIZATION_DOC }) @IsOptional() @IsString() @Matches(ORGANIZATION_SLUG) organization?: string;
}

export class UpdateUserDto {
  @ApiProperty({ enum: ROLES, example: 'approver' }) @IsIn(ROLES) role: Role;
}

export class ListUsersQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ example: 'acme', description: ORGANIZATION_DOC }) @IsOptional() @IsString() @Matches(ORGANIZATION_SLUG) organization?: string;
}

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) organizationId: string;
  @ApiProperty({ example: 'ada@example.com' }) email: string;
  @ApiPropertyOptional({ nullable: true, type: String }) displayName: string | null;
  @ApiProperty({ enum: ROLES }) role: Role;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time', description: 'Set when disabled: the user can no longer log in or call' })
  disabledAt: Date | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: Date;
}

export class UserPageDto extends PageMetaDto {
  @ApiProperty({ type: [UserDto] }) items: UserDto[];
}

export function toUserDto(user: UserEntity): UserDto {
  const { id, organizationId, email, displayName, role, disabledAt, createdAt } = user;
  return { id, organizationId, email, displayName, role, disabledAt, createdAt };
}

export class MeOrganizationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'global' }) slug: string;
  @ApiProperty({ example: 'global' }) name: string;
}

export class MeDto {
  @ApiProperty({ enum: ['user', 'api_key'], description: 'Who is calling: a logged-in user (JWT) or an API key' }) kind: 'user' | 'api_key';
  @ApiProperty({ format: 'uuid', description: 'The user id, or the API key id' }) id: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'The user behind the call, if any' }) userId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'admin@baton.local' }) email: string | null;
  @ApiProperty({ enum: ROLES }) role: Role;
  @ApiProperty({ type: MeOrganizationDto }) organization: MeOrganizationDto;
  @ApiProperty({ description: 'Admin of the platform organization: may manage organizations' }) platformAdmin: boolean;
}
