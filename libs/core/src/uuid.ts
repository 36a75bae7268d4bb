const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of rows are UUIDs: a value that is not one names no row, and must not reach a uuid column (SQLSTATE 22P02). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
