/**
 * TypeORM sends every `query()` unnamed, so PostgreSQL parses and plans it again on every call. For the statements a
 * hot path runs once per request (an A2A message: its conversation, its task, its links), that was a tenth of the
 * database's CPU per message (docs/benchmarks.md, run creation). `preparedQuery` runs such a statement as a named
 * prepared statement instead: parsed once per connection, its plan cached. Same rows, same errors (QueryFailedError).
 */
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { statementName } from './statement-names.js';

interface PgQueryable {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs `text` with `params` as a named prepared statement and returns its rows: on the transaction's connection when
 * `target` is a transaction's EntityManager, else on a connection of the DataSource's pool (one statement, its own
 * transaction, as `DataSource.query` runs it).
 */
export async function preparedQuery<R>(target: DataSource | EntityManager, text: string, params: unknown[]): Promise<R[]> {
  const manager = target instanceof DataSource ? target.manager : target;
  // Past the bound of statementName it runs unnamed, on the same connection and with the same rows.
  const name = statementName(text) ?? undefined;
  const runner = manager.queryRunner;
  const connection: PgQueryable =
    runner && !runner.isReleased && runner.isTransactionActive
      ? await runner.connect()
      : (manager.connection.driver as unknown as { master: PgQueryable }).master;
  try {
    return (await connection.query({ name, text, values: params })).rows as R[];
  } catch (error) {
    throw new QueryFailedError(text, params, error as Error);
  }
}
