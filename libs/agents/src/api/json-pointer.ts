/** RFC 6901 JSON pointers (`/data/0/id`), read over own properties only. */
import type { JsonValue } from '#core';

export function isJsonPointer(pointer: string): boolean {
  return pointer === '' || pointer.startsWith('/');
}

/** The value at `pointer`, or undefined when the document has none there. */
export function readJsonPointer(document: JsonValue, pointer: string): JsonValue | undefined {
  if (pointer === '') return document;
  let current: JsonValue | undefined = document;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) current = /^(0|[1-9]\d*)$/.test(token) ? current[Number(token)] : undefined;
    else if (current !== null && typeof current === 'object') current = Object.hasOwn(current, token) ? current[token] : undefined;
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}
