/** Event names of the log (DESIGN.md section 8), as they appear in SSE, webhooks and GET .../events. */
export const EVENT_TYPES = [
  'run.created',
  'run.started',
  'run.resumed',
  'run.awaiting_approval',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.compensating',
  'step.ready',
  'step.started',
  'step.progress',
  'step.completed',
  'step.failed',
  'step.retrying',
  'step.skipped',
  'step.cancelled',
  'step.waiting',
  'step.child_started',
  'step.child_finished',
  'step.compensating',
  'step.compensated',
  'checkpoint.requested',
  'checkpoint.resolved',
  'checkpoint.escalated',
  'agent.breaker_opened',
  'agent.breaker_half_opened',
  'agent.breaker_closed',
  'group.turn',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_RUN_EVENTS: readonly EventType[] = ['run.completed', 'run.failed', 'run.cancelled'];
