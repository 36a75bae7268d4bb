import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import type { JsonValue } from '#core';

/** Which run, step attempt and agent produced a deliverable or an asset (run and step absent outside a run). */
export interface ArtifactOrigin {
  runId: string | null;
  stepKey: string | null;
  attempt: number | null;
  agentSlug: string;
}

export interface AssetRow {
  id: string;
  runId: string | null;
  stepKey: string | null;
  attempt: number | null;
  agentSlug: string;
  filename: string;
  mediaType: string;
  sizeBytes: number;
  sha256: string;
  createdAt: string;
}

export interface DeliverableRow {
  id: string;
  runId: string | null;
  stepKey: string | null;
  attempt: number | null;
  agentSlug: string;
  kind: string;
  title: string;
  content: string | null;
  data: JsonValue | null;
  assetIds: string[];
  createdAt: string;
}

const ASSET_COLUMNS = `id, run_id AS "runId", step_key AS "stepKey", attempt, agent_slug AS "agentSlug", filename, media_type AS "mediaType",
  size_bytes::float8 AS "sizeBytes", sha256, created_at AS "createdAt"`;
const DELIVERABLE_COLUMNS = `id, run_id AS "runId", step_key AS "stepKey", attempt, agent_slug AS "agentSlug", kind, title, content, data,
  asset_ids AS "assetIds", created_at AS "createdAt"`;

/**
 * What function agents produce: assets (bytes in `<BATON_DATA_DIR>/assets/<organization>/<id>`, metadata in `assets`)
 * and deliverables (rows of `deliverables`). Tenant first in every query. The file is written before its row, so a
 * row always has its bytes; a crash between the two leaves an orphan file, never a row without content.
 */
@Injectable()
export class ArtifactsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'dataDir'>,
  ) {}

  private root(): string {
    return resolve(this.config.dataDir, 'assets');
  }

  async saveAsset(
    organizationId: string,
    origin: ArtifactOrigin,
    file: { filename: string; mediaType: string; bytes: Buffer },
  ): Promise<AssetRow> {
    const id = randomUUID();
    const storageKey = join(organizationId, id);
    await mkdir(join(this.root(), organizationId), { recursive: true });
    await writeFile(join(this.root(), storageKey), file.bytes);
    const sha256 = createHash('sha256').update(file.bytes).digest('hex');
    const [row] = await this.dataSource.query(
      `INSERT INTO assets (id, organization_id, run_id, step_key, attempt, agent_slug, filename, media_type, size_bytes, sha256, storage_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${ASSET_COLUMNS}`,
      [
        id,
        organizationId,
        origin.runId,
        origin.stepKey,
        origin.attempt,
        origin.agentSlug,
        file.filename,
        file.mediaType,
        file.bytes.length,
        sha256,
        storageKey,
      ],
    );
    return row as AssetRow;
  }

  async findAsset(organizationId: string, id: string): Promise<AssetRow | null> {
    const rows = await this.dataSource.query(`SELECT ${ASSET_COLUMNS} FROM assets WHERE organization_id = $1 AND id = $2`, [
      organizationId,
      id,
    ]);
    return (rows[0] as AssetRow | undefined) ?? null;
  }

  /** The asset's bytes, or null when there is no such asset in the organization. */
  async assetContent(organizationId: string, id: string): Promise<{ asset: AssetRow; bytes: Buffer } | null> {
    const rows = await this.dataSource.query(
      `SELECT ${ASSET_COLUMNS}, storage_key AS "storageKey" FROM assets WHERE organization_id = $1 AND id = $2`,
      [organizationId, id],
    );
    const row = rows[0] as (AssetRow & { storageKey: string }) | undefined;
    if (!row) return null;
    const { storageKey, ...asset } = row;
    return { asset, bytes: await readFile(join(this.root(), storageKey)) };
  }

  /** The subset of `ids` that are assets of the organization. */
  async existingAssetIds(organizationId: string, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM assets WHERE organization_id = $1 AND id = ANY($2::uuid[])`,
      [organizationId, ids],
    );
    return new Set(rows.map((r) => r.id));
  }

  async createDeliverable(
    organizationId: string,
    origin: ArtifactOrigin,
    deliverable: { kind: string; title: string; content: string | null; data: JsonValue | null; assetIds: string[] },
  ): Promise<DeliverableRow> {
    const [row] = await this.dataSource.query(
      `INSERT INTO deliverables (organization_id, run_id, step_key, attempt, agent_slug, kind, title, content, data, asset_ids)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${DELIVERABLE_COLUMNS}`,
      [
        organizationId,
        origin.runId,
        origin.stepKey,
        origin.attempt,
        origin.agentSlug,
        deliverable.kind,
        deliverable.title,
        deliverable.content,
        deliverable.data === null ? null : JSON.stringify(deliverable.data),
        deliverable.assetIds,
      ],
    );
    return row as DeliverableRow;
  }

  listDeliverables(organizationId: string, runId: string): Promise<DeliverableRow[]> {
    return this.dataSource.query(
      `SELECT ${DELIVERABLE_COLUMNS} FROM deliverables WHERE organization_id = $1 AND run_id = $2 ORDER BY created_at, id`,
      [organizationId, runId],
    );
  }

  listAssets(organizationId: string, runId: string): Promise<AssetRow[]> {
    return this.dataSource.query(`SELECT ${ASSET_COLUMNS} FROM assets WHERE organization_id = $1 AND run_id = $2 ORDER BY created_at, id`, [
      organizationId,
      runId,
    ]);
  }
}
