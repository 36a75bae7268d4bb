import type { CommittedEvent } from '../store/committed-event.js';
import { attemptOutcome } from './engine-event-metrics.js';
import { transitionFields, transitionLevel } from './transition-log.js';

const base: CommittedEvent = {
  id: '1',
  runId: 'r',
  organizationId: 'o',
  seq: 1,
  type: 'step.completed',
  stepKey: 's',
  payload: { attempt: 1 },
  definition: 'd',
  traceParent: null,
  agent: 'echo',
  stepAttempt: 1,
  sinceStartedMs: 12.4,
  dueToStartMs: 3,
  startedAfterDue: true,
};
const ev = (fields: Partial<CommittedEvent>): CommittedEvent => ({ ...base, ...fields });

/** Which attempt outcome each step event reports (the `outcome` label of baton_steps_finished_total and of log lines). */
describe('attempt outcomes of committed events', () => {
  it('maps results, retries, lease losses, shutdowns, timeouts and cancellations', () => {
    expect(attemptOutcome(ev({ type: 'step.completed' }))).toBe('completed');
    expect(attemptOutcome(ev({ type: 'checkpoint.requested' }))).toBe('checkpoint');
    expect(attemptOutcome(ev({ type: 'step.failed', payload: { attempt: 3, error: { code: 'FAIL' } } }))).toBe('failed');
    expect(attemptOutcome(ev({ type: 'step.failed', payload: { attempt: 3, error: { code: 'TIMEOUT' } } }))).toBe('timeout');
    expect(attemptOutcome(ev({ type: 'step.retrying', payload: { attempt: 1, error: { code: 'FLAKY' } } }))).toBe('retrying');
    expect(attemptOutcome(ev({ type: 'step.retrying', payload: { attempt: 1, error: { code: 'TIMEOUT' } } }))).toBe('timeout');
    expect(attemptOutcome(ev({ type: 'step.retrying', payload: { attempt: 1, reason: 'lease_expired', delayMs: 0 } }))).toBe('lease_lost');
    expect(attemptOutcome(ev({ type: 'step.retrying', payload: { attempt: 1, reason: 'worker_shutdown', delayMs: 0 } }))).toBe('released');
    // Cancelled while running is an ended attempt; a pending or retry-waiting step just goes away.
    expect(attemptOutcome(ev({ type: 'step.cancelled', startedAfterDue: true }))).toBe('cancelled');
    expect(attemptOutcome(ev({ type: 'step.cancelled', startedAfterDue: false }))).toBeNull();
    expect(attemptOutcome(ev({ type: 'step.cancelled', startedAfterDue: null }))).toBeNull();
    for (const type of ['step.started', 'step.ready', 'step.progress', 'run.completed'] as const)
      expect(attemptOutcome(ev({ type }))).toBeNull();
  });

  it('logs transitions at the level they deserve, with bounded fields and no step data', () => {
    expect(transitionLevel(ev({ type: 'run.created', stepKey: null }))).toBe('log');
    expect(transitionLevel(ev({ type: 'step.failed' }))).toBe('warn');
    expect(transitionLevel(ev({ type: 'step.retrying', payload: { reason: 'lease_expired' } }))).toBe('warn');
    expect(transitionLevel(ev({ type: 'step.retrying', payload: { error: { code: 'X' } } }))).toBe('log');
    expect(transitionLevel(ev({ type: 'step.completed' }))).toBe('debug');
    expect(transitionLevel(ev({ type: 'step.progress' }))).toBe('verbose');
    const fields = transitionFields(ev({ type: 'step.completed', payload: { attempt: 2, output: { secret: 'step data' } } }));
    expect(fields).toEqual({
      event: 'step.completed',
      eventId: '1',
      runId: 'r',
      organizationId: 'o',
      definition: 'd',
      stepKey: 's',
      attempt: 2,
      agent: 'echo',
      outcome: 'completed',
      durationMs: 12,
    });
  });
});
