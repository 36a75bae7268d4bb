import { DomainError } from '#core';
import { comparePositions } from './organization-stream.service.js';
import { matchesFilter, parseEventTypeFilter } from './event-type-filter.js';

describe('event type filters (?types=)', () => {
  it('absent or empty means every type', () => {
    expect(parseEventTypeFilter(undefined)).toBeNull();
    expect(parseEventTypeFilter(' , ')).toBeNull();
    expect(matchesFilter(null, 'step.started')).toBe(true);
  });

  it('takes comma-separated names and <category>.* wildcards', () => {
    const filter = parseEventTypeFilter('step.completed, run.*');
    expect([...(filter ?? [])].sort()).toEqual(
      [
        'run.awaiting_approval',
        'run.cancelled',
        'run.compensating',
        'run.completed',
        'run.created',
        'run.failed',
        'run.resumed',
        'run.started',
        'step.completed',
      ].sort(),
    );
    expect(matchesFilter(filter, 'run.failed')).toBe(true);
    expect(matchesFilter(filter, 'step.started')).toBe(false);
    expect(parseEventTypeFilter(['checkpoint.*'])?.has('checkpoint.requested')).toBe(true);
    expect([...(parseEventTypeFilter('group.*') ?? [])]).toEqual(['group.turn']);
  });

  it('rejects unknown names with the offending entry', () => {
    expect(() => parseEventTypeFilter('step.completed,step.exploded')).toThrow(DomainError);
    try {
      parseEventTypeFilter('nope.*');
    } catch (error) {
      expect((error as DomainError).details).toEqual([{ path: '$.types', message: expect.stringContaining('"nope.*"') }]);
    }
  });
});

describe('log positions', () => {
  it('order by transaction id first, then event id, as 64-bit numbers', () => {
    expect(comparePositions({ txId: '10', id: '5' }, { txId: '9', id: '500' })).toBe(1);
    expect(comparePositions({ txId: '9', id: '5' }, { txId: '9', id: '50' })).toBe(-1);
    expect(comparePositions({ txId: '18446744073709551615', id: '1' }, { txId: '18446744073709551614', id: '2' })).toBe(1);
    expect(comparePositions({ txId: '7', id: '7' }, { txId: '7', id: '7' })).toBe(0);
  });
});
