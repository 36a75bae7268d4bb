import type { Step } from './api/types';

/** A step as GET /orchestrations/runs/:id returns it, for the unit and component tests. */
export const makeStep = (key: string, status: Step['status'] = 'pending', dependsOn: string[] = []): Step => ({
  key,
  status,
  type: 'agent',
  agent: 'echo',
  dependsOn,
  attempt: 1,
  maxAttempts: 3,
  nextAttemptAt: null,
  input: null,
  output: null,
  error: null,
  startedAt: null,
  completedAt: null,
});
