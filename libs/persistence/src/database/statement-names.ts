/**
 * Statement text -> prepared statement name, for every statement this process runs named (the engine's connections,
 * and `preparedQuery` on TypeORM's). The same text gets the same name on any connection. Bounded: the texts are
 * constants; should one vary per call (none should), past the bound it runs unnamed, so no connection's set of
 * prepared statements can grow without limit.
 */
import { createHash } from 'node:crypto';

const names = new Map<string, string>();
const MAX_NAMED = 500;

/** The name to prepare `text` under, or null: run it unnamed. */
export function statementName(text: string): string | null {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMED) return null;
    name = `baton_${createHash('sha1').update(text).digest('base64url')}`;
    names.set(text, name);
  }
  return name;
}
