/**
 * What `runs:start --follow` prints, kept free of I/O so it is unit-tested: one line per event, a progress bar
 * computed from the step events seen so far, and the hint that tells an operator how to decide a checkpoint.
 */
import type { JsonValue, StepStatus } from '#core';
import type { EventRow } from '#events';

const BAR_WIDTH = 20;
const PAYLOAD_CHARS = 100;
const TYPE_WIDTH = 'run.awaiting_approval'.length;

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time with milliseconds: the events of one run are seconds apart, never days. */
export function clockTime(date: Date): string {
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** The payload on one line, cut to a readable length; an empty object prints nothing. */
export function shortPayload(payload: unknown, max = PAYLOAD_CHARS): string {
  if (payload === null || payload === undefined) return '';
  const text = JSON.stringify(payload) ?? '';
  if (text === '{}') return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `HH:MM:SS.mmm  #seq  type  stepKey  short payload`, columns aligned for one run's step keys. */
export function eventLine(event: EventRow, keyWidth: number): string {
  const created = event.created_at instanceof Date ? event.created_at : new Date(event.created_at);
  const columns = [
    clockTime(created),
    `#${event.seq}`.padEnd(5),
    event.type.padEnd(TYPE_WIDTH),
    (event.step_key ?? '-').padEnd(Math.max(1, keyWidth)),
    shortPayload(event.payload),
  ];
  return columns.join('  ').trimEnd();
}

/** `[########------------] 8/20 40%` */
export function progressBar(done: number, total: number, width = BAR_WIDTH): string {
  const ratio = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${Math.round(ratio * 100)}%`;
}

const STEP_STATUS_BY_EVENT: Partial<Record<string, StepStatus>> = {
  'step.ready': 'ready',
  'step.started': 'running',
  'step.retrying': 'ready',
  'step.completed': 'completed',
  'step.failed': 'failed',
  'step.skipped': 'skipped',
  'step.cancelled': 'cancelled',
  'checkpoint.requested': 'awaiting_approval',
};

const FINISHED: readonly StepStatus[] = ['completed', 'failed', 'skipped', 'cancelled'];

/**
 * Step states of one run rebuilt from its event log, read from the first event: the follower never mixes a
 * snapshot with events, so the bar cannot count a step twice or miss one. "Done" means finished in any way
 * (the API's `percent` counts the same).
 */
export class StepProgress {
  private readonly statuses = new Map<string, StepStatus>();

  constructor(stepKeys: readonly string[]) {
    for (const key of stepKeys) this.statuses.set(key, 'pending');
  }

  apply(event: EventRow): void {
    const status = STEP_STATUS_BY_EVENT[event.type];
    if (status && event.step_key && this.statuses.has(event.step_key)) this.statuses.set(event.step_key, status);
  }

  get total(): number {
    return this.statuses.size;
  }

  get done(): number {
    return [...this.statuses.values()].filter((s) => FINISHED.includes(s)).length;
  }

  /** Steps that could run now but no worker has started: the sign that no worker is running. */
  get waitingForWorker(): boolean {
    const statuses = [...this.statuses.values()];
    return statuses.includes('ready') && !statuses.includes('running');
  }

  bar(): string {
    return progressBar(this.done, this.total);
  }
}

const ALL_DECISIONS = ['continue', 'retry', 'skip', 'abort'];

/** For a `checkpoint.requested` event: what is asked and the exact command that answers it. */
export function approvalHint(event: EventRow, organizationSlug: string): string[] {
  if (event.type !== 'checkpoint.requested') return [];
  const payload = (event.payload ?? {}) as { [key: string]: JsonValue };
  const approvalId = typeof payload.approvalId === 'string' ? payload.approvalId : null;
  if (!approvalId) return [];
  const decisions =
    Array.isArray(payload.decisions) && payload.decisions.length > 0 && payload.decisions.every((d) => typeof d === 'string')
      ? (payload.decisions as string[])
      : ALL_DECISIONS;
  const prompt = typeof payload.prompt === 'string' ? `: ${payload.prompt}` : '';
  const org = organizationSlug === 'global' ? '' : ` --org ${organizationSlug}`;
  return [
    `  Step ${event.step_key ?? '?'} waits for approval ${approvalId}${prompt}`,
    `  Decide with: npm run cli -- approvals:decide ${approvalId} ${decisions.join('|')}${org}`,
  ];
}
