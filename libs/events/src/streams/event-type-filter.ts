import { DomainError } from '#core';
import { EVENT_TYPES, type EventType } from '../event-types.js';

/** Which event types a subscriber wants: null = all. */
export type EventTypeFilter = ReadonlySet<EventType> | null;

const CATEGORIES = new Set(EVENT_TYPES.map((t) => t.split('.')[0]));

/**
 * Parses `types=step.completed,run.*`: exact event names, or `<category>.*` for every event of a category
 * (run, step, checkpoint, agent, group). Unknown names are a 400 with the offending entry, not a silently empty stream.
 */
export function parseEventTypeFilter(raw: string | readonly string[] | undefined, path = '$.types'): EventTypeFilter {
  if (raw === undefined) return null;
  const entries = (Array.isArray(raw) ? raw : [raw])
    .flatMap((v: string) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  if (entries.length === 0) return null;
  const wanted = new Set<EventType>();
  const problems: { path: string; message: string }[] = [];
  for (const entry of entries) {
    if ((EVENT_TYPES as readonly string[]).includes(entry)) {
      wanted.add(entry as EventType);
    } else if (entry.endsWith('.*') && CATEGORIES.has(entry.slice(0, -2))) {
      for (const type of EVENT_TYPES) if (type.startsWith(entry.slice(0, -1))) wanted.add(type);
    } else {
      problems.push({ path, message: `unknown event type "${entry}"; expected one of ${EVENT_TYPES.join(', ')} or <category>.*` });
    }
  }
  if (problems.length > 0) throw DomainError.validation('Unknown event type in the filter', problems);
  return wanted;
}

export function matchesFilter(filter: EventTypeFilter, type: string): boolean {
  return filter === null || filter.has(type as EventType);
}
