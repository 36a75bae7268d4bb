import { DomainError } from '#core';

/** `from` / `to` query parameters (already ISO 8601 by validation) as dates; `from` must be before `to`. */
export function timeRange(query: { from?: string; to?: string }): { from?: Date; to?: Date } {
  const from = query.from ? new Date(query.from) : undefined;
  const to = query.to ? new Date(query.to) : undefined;
  if (from && to && from >= to) throw DomainError.validation('from must be before to', [{ path: '$.from', message: 'must be before to' }]);
  return { from, to };
}
