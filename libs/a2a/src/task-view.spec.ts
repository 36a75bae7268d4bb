import { TaskState } from '@a2a-js/sdk';
import { streamResponsesOf, type LoggedEvent } from './task-view.js';

const run = { id: 'run-1', contextId: 'ctx-1' };
const steps = { index: new Map([['write', 2]]), count: 3 };
const event = (type: string, payload: LoggedEvent['payload'], stepKey: string | null = 'write'): LoggedEvent => ({
  id: '42',
  type,
  stepKey,
  payload,
  createdAt: '2026-12-01T10:00:00.000Z',
});

describe('streamResponsesOf', () => {
  it('passes step progress (LLM tokens) through as a WORKING update with the token as text', () => {
    const [response] = streamResponsesOf(event('step.progress', { attempt: 1, progress: { token: 'Hel' } }), run, steps);
    expect(response.payload?.$case).toBe('statusUpdate');
    const update = response.payload?.$case === 'statusUpdate' ? response.payload.value : undefined;
    expect(update?.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    expect(update?.status?.message?.parts.map((p) => p.content)).toEqual([
      { $case: 'text', value: 'Hel' },
      { $case: 'data', value: { type: 'orchestration.progress', stepKey: 'write', progress: { token: 'Hel' } } },
    ]);
    expect(update?.metadata).toEqual({ eventId: '42', eventType: 'step.progress' });
  });

  it('turns a group turn into a WORKING update saying who spoke and what', () => {
    const payload = {
      attempt: 1,
      turn: 3,
      speaker: 'critic',
      agent: 'critic-llm',
      text: 'Too long.',
      output: { text: 'Too long.' },
      selectedBy: 'round-robin',
    };
    const [response] = streamResponsesOf(event('group.turn', payload), run, steps);
    const update = response.payload?.$case === 'statusUpdate' ? response.payload.value : undefined;
    expect(update?.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    expect(update?.status?.message?.parts.map((p) => p.content?.value)).toEqual([
      'critic: Too long.',
      { type: 'orchestration.group_turn', stepKey: 'write', turn: 3, speaker: 'critic', agent: 'critic-llm', text: 'Too long.' },
    ]);
  });

  it('says "Step i/n: key" with the orchestration.step data part', () => {
    const [response] = streamResponsesOf(event('step.retrying', { attempt: 1 }), run, steps);
    const parts =
      response.payload?.$case === 'statusUpdate' ? response.payload.value.status?.message?.parts.map((p) => p.content?.value) : [];
    expect(parts).toEqual([
      'Step 2/3: write retrying',
      { type: 'orchestration.step', stepKey: 'write', stepIndex: 2, stepCount: 3, status: 'retrying' },
    ]);
  });

  it('maps a failed run to FAILED with the orchestration.error data part, and ignores events a client has no use for', () => {
    const [response] = streamResponsesOf(
      event('run.failed', { error: { step: 'write', error: { code: 'FAIL', message: 'boom' } } }, null),
      run,
      steps,
    );
    const update = response.payload?.$case === 'statusUpdate' ? response.payload.value : undefined;
    expect(update?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(update?.status?.message?.parts.map((p) => p.content?.value)).toEqual([
      'Step write failed: boom',
      { type: 'orchestration.error', stepKey: 'write', message: 'boom' },
    ]);
    expect(streamResponsesOf(event('step.ready', {}), run, steps)).toEqual([]);
    expect(streamResponsesOf(event('run.created', {}, null), run, steps)).toEqual([]);
  });
});
