import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';
import { EventDto } from '../runs/run.dto.js';

export class EventHistoryQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'From this time (inclusive)' }) @IsOptional() @IsISO8601() from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Until this time (exclusive)' }) @IsOptional() @IsISO8601() to?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'Only events of this run' }) @IsOptional() @IsUUID() run?: string;
  @ApiPropertyOptional({ description: 'Only events of runs of this definition (slug)' }) @IsOptional() @IsString() @MaxLength(100) definition?: string;
  @ApiPropertyOptional({ example: 'step.*,run.completed', description: 'Comma-separated event types; `<category>.*` for every type of a category' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  types?: string;
}

export class EventHistoryPageDto extends PageMetaDto {
  @ApiProperty({ type: [EventDto] }) items: EventDto[];
}
