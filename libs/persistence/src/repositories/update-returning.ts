import type { EntityManager } from 'typeorm';

/**
 * Rows of an `UPDATE ... RETURNING` / `DELETE ... RETURNING` run through TypeORM. Its PostgreSQL driver
 * answers those two commands with `[rows, affectedCount]` instead of the rows (INSERT and SELECT return
 * the rows), so reading `result[0].column` directly silently yields undefined.
 */
export async function updateReturning<T>(manager: EntityManager, sql: string, parameters: unknown[]): Promise<T[]> {
  const result: unknown = await manager.query(sql, parameters);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  throw new Error('updateReturning: expected an UPDATE or DELETE statement (TypeORM answers [rows, affected])');
}
