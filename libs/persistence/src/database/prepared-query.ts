/**
 * TypeORM sends every `query()` unnamed, so PostgreSQL parses and plans it again on every call. For the statements a
 * hot path runs once per request (an A2A message: its conversation, its task, its links), that was a tenth of the
 * database's CPU per message (docs/benchmarks.md, run creation). `preparedQuery` runs such a statement as a named
 * prepared statement instead: parsed once per connection, its plan cached. Same rows, same errors (QueryFailedError).
 */
import { createHash } from 'node:crypto';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';

interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Statement text -> name. Bounded: the texts given here are constants; should one vary per call, past the bound it
 * simply runs unnamed, so no connection's set of prepared statements can grow without limit.
 */
const names = new Map<string, string>();
const MAX_NAMED = 200;

function nameOf(text: string): string | null {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMED) return null;
    name = `baton_tq_${createHash('sha1').update(text).digest('base64url')}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Runs `text` with `params` as a named prepared statement and returns its rows: on the transaction's connection when
 * `target` is a transaction's EntityManager, else on a connection of the DataSource's pool (one statement, its own
 * transaction, as `DataSource.query` runs it).
 */
export async function preparedQuery<R>(target: DataSource | EntityManager, text: string, params: unknown[]): Promise<R[]> {
  const manager = target instanceof DataSource ? target.manager : target;
  const name = nameOf(text);
  if (name === null) return manager.query(text, params);
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
