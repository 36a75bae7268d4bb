import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { JsonValue } from '#core';
import type { AssetRow, DeliverableRow } from '#persistence';

export class AssetDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String }) runId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'openai' }) stepKey: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 1 }) attempt: number | null;
  @ApiProperty({ example: 'image-generator-openai' }) agentSlug: string;
  @ApiProperty({ example: 'openai-1.png' }) filename: string;
  @ApiProperty({ example: 'image/png' }) mediaType: string;
  @ApiProperty({ example: 48213 }) sizeBytes: number;
  @ApiProperty({ description: 'SHA-256 of the bytes, hex' }) sha256: string;
  @ApiProperty({ example: '2026-12-01T10:00:00.000Z' }) createdAt: string;
  @ApiProperty({ example: '/assets/0b6f.../content', description: 'Where the bytes are' }) contentUrl: string;
}

export class DeliverableDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String }) runId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) stepKey: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) attempt: number | null;
  @ApiProperty() agentSlug: string;
  @ApiProperty({ example: 'image-set' }) kind: string;
  @ApiProperty({ example: 'openai images: a lighthouse at dawn' }) title: string;
  @ApiPropertyOptional({ nullable: true, type: String }) content: string | null;
  @ApiPropertyOptional({ description: 'Any JSON the agent attached', nullable: true }) data: JsonValue | null;
  @ApiProperty({ type: [String], description: 'Assets this deliverable points at' }) assetIds: string[];
  @ApiProperty() createdAt: string;
}

export class DeliverableListDto {
  @ApiProperty({ type: [DeliverableDto] }) items: DeliverableDto[];
  @ApiProperty({ type: [AssetDto], description: "Every asset the run's steps saved" }) assets: AssetDto[];
}

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : String(value));

export function toAssetDto(row: AssetRow): AssetDto {
  return { ...row, createdAt: iso(row.createdAt), contentUrl: `/assets/${row.id}/content` };
}

export function toDeliverableDto(row: DeliverableRow): DeliverableDto {
  return { ...row, createdAt: iso(row.createdAt) };
}
