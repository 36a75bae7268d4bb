import type { BatonEvent, Run, Step, StepStatus } from '../api/types';

/** The step state an event moves a step to (events the step panel shows but that change no state map to null). */
const STEP_STATE_OF: Record<string, StepStatus | undefined> = {
  'step.ready': 'ready',
  'step.started': 'running',
  'step.completed': 'completed',
  'step.failed': 'failed',
  'step.retrying': 'pending',
  'step.skipped': 'skipped',
  'step.cancelled': 'cancelled',
  'step.waiting': 'waiting',
  'step.compensating': 'compensating',
  'step.compensated': 'compensated',
  'checkpoint.requested': 'awaiting_approval',
};

export const RUN_STATE_OF: Record<string, Run['status'] | undefined> = {
  'run.started': 'running',
  'run.resumed': 'running',
  'run.awaiting_approval': 'awaiting_approval',
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
};

/** Events of a parent run that change its child runs (planned, started, ended): the page re-reads them. */
export const CHILD_EVENTS: ReadonlySet<string> = new Set(['step.waiting', 'step.child_started', 'step.child_finished']);

/**
 * Applies live events to a run and its steps, in order. Every change sets a state (none counts), so an event
 * applied twice (a run read just after the history, then the stream replaying what happened in between) does no harm.
 * A child's end (`step.child_finished`) sets that child's status in `run.children`; the step's child counters
 * come from the server (the page re-reads the run on CHILD_EVENTS).
 */
export function applyEvents(run: Run, events: BatonEvent[]): Run {
  let status = run.status;
  let output = run.output;
  let error = run.error;
  let steps = run.steps ?? [];
  let children = run.children;
  let changed = false;
  const byKey = new Map(steps.map((s, i) => [s.key, i]));
  for (const event of events) {
    if (event.runId !== run.id) continue;
    if (event.type === 'step.child_finished' && children) {
      const childId = event.payload?.childRunId;
      const childStatus = event.payload?.status as Run['status'] | undefined;
      const at = children.findIndex((c) => c.id === childId);
      if (at >= 0 && childStatus && children[at]!.status !== childStatus) {
        if (children === run.children) children = [...children];
        const child = children[at]!;
        children[at] = { ...child, status: childStatus, percent: childStatus === 'completed' ? 100 : child.percent, completedAt: child.completedAt ?? event.createdAt };
        changed = true;
      }
    }
    const runState = RUN_STATE_OF[event.type];
    if (runState) {
      status = runState;
      if (event.type === 'run.completed') output = event.payload?.output ?? output;
      if (event.type === 'run.failed') error = event.payload?.error ?? error;
      changed = true;
    }
    const stepState = event.stepKey ? STEP_STATE_OF[event.type] : undefined;
    const index = event.stepKey ? byKey.get(event.stepKey) : undefined;
    if (stepState && index !== undefined) {
      if (steps === run.steps) steps = [...steps];
      const step: Step = { ...steps[index]!, status: stepState };
      const payload = event.payload ?? {};
      if (typeof payload.attempt === 'number') step.attempt = payload.attempt;
      if (event.type === 'step.started') step.startedAt = event.createdAt;
      if (event.type === 'step.completed') {
        step.output = payload.output;
        step.completedAt = event.createdAt;
      }
      if (event.type === 'step.skipped') step.output = payload.output;
      if (event.type === 'step.failed') step.error = payload.error;
      steps[index] = step;
      changed = true;
    }
  }
  return changed ? { ...run, status, output, error, steps, children } : run;
}

/** Merges event pages without duplicates, ordered by seq. */
export function mergeEvents(known: BatonEvent[], incoming: BatonEvent[]): BatonEvent[] {
  const seen = new Set(known.map((e) => e.id));
  const fresh = incoming.filter((e) => !seen.has(e.id));
  if (fresh.length === 0) return known;
  return [...known, ...fresh].sort((a, b) => a.seq - b.seq);
}

export interface AttemptBar {
  stepKey: string;
  attempt: number;
  start: number;
  end: number | null;
  outcome: 'running' | 'completed' | 'failed' | 'retrying' | 'cancelled' | 'awaiting_approval';
}

/** The Gantt bars: one per step attempt, from its step.started to the event that ended it. */
export function attemptBars(events: BatonEvent[]): AttemptBar[] {
  const open = new Map<string, AttemptBar>();
  const bars: AttemptBar[] = [];
  for (const event of events) {
    if (!event.stepKey) continue;
    const at = Date.parse(event.createdAt);
    const key = event.stepKey;
    if (event.type === 'step.started') {
      const bar: AttemptBar = { stepKey: key, attempt: Number(event.payload?.attempt ?? 1), start: at, end: null, outcome: 'running' };
      open.set(key, bar);
      bars.push(bar);
      continue;
    }
    const bar = open.get(key);
    if (!bar) continue;
    const outcome = (
      {
        'step.completed': 'completed',
        'step.failed': 'failed',
        'step.retrying': 'retrying',
        'step.cancelled': 'cancelled',
        'checkpoint.requested': 'awaiting_approval',
      } as const
    )[event.type as 'step.completed'];
    if (!outcome) continue;
    bar.end = at;
    bar.outcome = outcome;
    open.delete(key);
  }
  return bars;
}

/** One turn of a group step, from its group.turn event. */
export interface GroupTurnView {
  turn: number;
  speaker: string;
  text: string;
  selectedBy: string;
}

/** The turns of a group step in log order (a checkpoint's retry starts again at turn 1, so a number may repeat). */
export function groupTurns(events: BatonEvent[], stepKey: string): GroupTurnView[] {
  return events
    .filter((e) => e.type === 'group.turn' && e.stepKey === stepKey)
    .map((e) => {
      const p = e.payload ?? {};
      return {
        turn: typeof p.turn === 'number' ? p.turn : 0,
        speaker: typeof p.speaker === 'string' ? p.speaker : '?',
        text: typeof p.text === 'string' ? p.text : '',
        selectedBy: typeof p.selectedBy === 'string' ? p.selectedBy : '',
      };
    });
}
