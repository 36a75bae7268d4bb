/** Run and step states of DESIGN.md section 5, and the transitions each allows. */
export const RUN_STATUSES = ['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const STEP_STATUSES = [
  'pending',
  'ready',
  'running',
  'awaiting_approval',
  'waiting',
  'completed',
  'failed',
  'skipped',
  'cancelled',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];
export const TERMINAL_STEP_STATUSES: readonly StepStatus[] = ['completed', 'failed', 'skipped', 'cancelled'];

const RUN_TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  pending: ['running', 'cancelled', 'failed'],
  running: ['awaiting_approval', 'completed', 'failed', 'cancelled'],
  awaiting_approval: ['running', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: ['running'], // manual retry of a failed step revives the run
  cancelled: [],
};

const STEP_TRANSITIONS: Record<StepStatus, readonly StepStatus[]> = {
  pending: ['ready', 'skipped', 'cancelled'],
  ready: ['running', 'skipped', 'cancelled'],
  running: ['completed', 'failed', 'ready', 'awaiting_approval', 'waiting', 'cancelled'],
  awaiting_approval: ['completed', 'ready', 'skipped', 'cancelled'],
  // its children finished: done, awaiting a decision on their outputs, back to ready for a retry (new children), or failed
  waiting: ['completed', 'awaiting_approval', 'ready', 'failed', 'cancelled'],
  completed: [],
  failed: ['ready', 'skipped'], // manual intervention
  skipped: [],
  cancelled: ['ready'], // manual retry after a failure cancelled the step
};

export function canTransitionRun(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

export function canTransitionStep(from: StepStatus, to: StepStatus): boolean {
  return STEP_TRANSITIONS[from].includes(to);
}

/**
 * Throws unless the state machine allows `from -> to`: the engine's transition module calls these for every change
 * it decides, so a transition the table does not declare is a bug found at once rather than a row left wrong.
 */
export function assertRunTransition(from: RunStatus, to: RunStatus): void {
  if (!canTransitionRun(from, to)) throw new Error(`Run transition ${from} -> ${to} is not allowed`);
}

export function assertStepTransition(from: StepStatus, to: StepStatus): void {
  if (!canTransitionStep(from, to)) throw new Error(`Step transition ${from} -> ${to} is not allowed`);
}

export function runStatusesFrom(to: RunStatus): RunStatus[] {
  return RUN_STATUSES.filter((s) => RUN_TRANSITIONS[s].includes(to));
}

export function stepStatusesFrom(to: StepStatus): StepStatus[] {
  return STEP_STATUSES.filter((s) => STEP_TRANSITIONS[s].includes(to));
}

export const ROLES = ['admin', 'operator', 'approver', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const AGENT_TYPES = ['context', 'api', 'tool', 'function', 'orchestrator', 'a2a'] as const;
export type AgentType = (typeof AGENT_TYPES)[number];

export const DEFINITION_STATUSES = ['draft', 'active', 'archived'] as const;
export type DefinitionStatus = (typeof DEFINITION_STATUSES)[number];
