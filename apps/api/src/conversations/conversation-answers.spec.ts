import type { OrchestrationRunEntity } from '#persistence';
import { answerParts } from './conversation-answers.js';

const run = (status: OrchestrationRunEntity['status'], output: unknown = null, error: unknown = null) =>
  ({
    id: '00000000-0000-4000-8000-000000000001',
    status,
    output,
    error,
    updatedAt: new Date('2026-12-02T00:00:00Z'),
    definitionSlug: 'kpi',
    definitionVersion: 1,
  }) as OrchestrationRunEntity;

describe('answerParts', () => {
  it('answers a completed run with its output, after a text summary when the output has one', () => {
    expect(answerParts(run('completed', { text: 'Q3 is up', rows: 3 }), 'ctx', [])).toEqual([
      expect.objectContaining({ text: 'Q3 is up' }),
      expect.objectContaining({ data: { text: 'Q3 is up', rows: 3 } }),
    ]);
    expect(answerParts(run('completed', { rows: [] }), 'ctx', [])).toEqual([expect.objectContaining({ data: { rows: [] } })]);
  });

  it('answers a failure, a cancellation and a checkpoint', () => {
    const failed = answerParts(run('failed', null, { step: 'fetch', error: { message: 'boom' } }), 'ctx', []);
    expect(failed).toContainEqual(expect.objectContaining({ text: 'Step fetch failed: boom' }));
    expect(failed).toContainEqual(expect.objectContaining({ data: { type: 'orchestration.error', stepKey: 'fetch', message: 'boom' } }));
    expect(answerParts(run('cancelled'), 'ctx', [])).toEqual([expect.objectContaining({ text: 'Task canceled' })]);
    const pending = [{ approvalId: 'a1', stepKey: 'draft', prompt: 'Publish?', payload: {}, allowedDecisions: ['continue', 'abort'] }];
    const paused = answerParts(run('awaiting_approval'), 'ctx', pending);
    expect(paused).toContainEqual(expect.objectContaining({ text: 'Publish?' }));
    expect(paused).toContainEqual(
      expect.objectContaining({ data: expect.objectContaining({ type: 'orchestration.approval', approvalId: 'a1' }) }),
    );
  });

  it('has nothing to say for a checkpoint already decided', () => {
    expect(answerParts(run('awaiting_approval'), 'ctx', [])).toEqual([]);
  });
});
