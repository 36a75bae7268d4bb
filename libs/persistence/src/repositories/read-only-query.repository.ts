import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import type { DataSource } from 'typeorm';

export interface ReadOnlyQuery {
  /** One statement, checked by its caller; values only in `values` (bound, never spliced). */
  text: string;
  values: unknown[];
  /** The only schema on the search path. */
  schema: string;
  statementTimeoutMs: number;
}

export interface ReadOnlyResult {
  rows: Record<string, unknown>[];
  /** Name and PostgreSQL type oid of each column, in order. */
  columns: { name: string; typeId: number }[];
}

/**
 * Runs the `sql-query` tool's queries (tool agents): on a connection of its own, inside a READ ONLY transaction that
 * is always rolled back, as the database's tool role (`baton_sql_tool_role()`, which may SELECT only the tables the
 * migration granted it), with a statement and lock timeout, the search path set to one schema, and the extended
 * protocol (one statement per call, whatever the text says). PostgreSQL errors reach the caller unchanged (their
 * SQLSTATE `code` tells a timeout from a refusal).
 */
@Injectable()
export class ReadOnlyQueryRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async run(query: ReadOnlyQuery): Promise<ReadOnlyResult> {
    // The data source's own pool (TypeORM's postgres driver keeps it as `master`): a connection comes back with
    // `release(error)` when its rollback failed, so the pool drops it instead of lending it out with the role set.
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    const client = await pool.connect();
    try {
      await client.query('BEGIN TRANSACTION READ ONLY');
      await client.query({
        text: `SELECT set_config('role', baton_sql_tool_role(), true), set_config('statement_timeout', $1, true),
                      set_config('lock_timeout', $1, true), set_config('search_path', $2, true),
                      set_config('standard_conforming_strings', 'on', true)`,
        values: [`${query.statementTimeoutMs}ms`, pg.escapeIdentifier(query.schema)],
      });
      // `queryMode: 'extended'` (pg 8.12+, not in its types yet): parse/bind/execute even without values, where
      // the simple protocol would run every statement of a multi-statement text.
      const config = { text: query.text, values: query.values, queryMode: 'extended' } as pg.QueryConfig;
      const result = await client.query(config);
      return {
        rows: result.rows as Record<string, unknown>[],
        columns: result.fields.map((f) => ({ name: f.name, typeId: f.dataTypeID })),
      };
    } finally {
      // ROLLBACK, never COMMIT: nothing a query did (it can do nothing) outlives it.
      const rollback = await client.query('ROLLBACK').then(
        () => undefined,
        (error: Error) => error,
      );
      client.release(rollback);
    }
  }
}
