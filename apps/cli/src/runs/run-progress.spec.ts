import type { EventRow } from '#events';
import type { RunQueryService } from '#engine';
import { followRun } from './run-follower.js';
import { approvalHint, eventLine, progressBar, shortPayload, StepProgress } from './run-progress.js';

let nextId = 100;
function event(seq: number, type: string, stepKey: string | null = null, payload: unknown = {}): EventRow {
  return {
    id: String(nextId++),
    organization_id: 'org',
    run_id: 'run',
    seq,
    type,
    step_key: stepKey,
    payload,
    created_at: new Date(2025, 0, 2, 9, 5, 7, 42),
  };
}

/** A run's event log served page by page, as RunQueryService.events serves it (after an event id, by seq). */
function logOf(events: EventRow[], revealPerPoll = Infinity) {
  let visible = 0;
  return {
    async events(_org: string, _run: string, afterId: string | null): Promise<EventRow[]> {
      visible = Math.min(events.length, visible + revealPerPoll);
      const start = afterId === null ? 0 : events.findIndex((e) => e.id === afterId) + 1;
      return events.slice(start, visible);
    },
  } as unknown as RunQueryService;
}

describe('run progress printing', () => {
  it('formats an event as `HH:MM:SS.mmm  #seq  type  stepKey  payload`, aligned', () => {
    expect(eventLine(event(12, 'step.completed', 'greet', { output: { a: 1 } }), 6)).toBe(
      '09:05:07.042  #12    step.completed         greet   {"output":{"a":1}}',
    );
    expect(eventLine(event(1, 'run.started'), 6)).toBe('09:05:07.042  #1     run.started            -');
  });

  it('shortens long payloads and omits empty ones', () => {
    expect(shortPayload({})).toBe('');
    expect(shortPayload(null)).toBe('');
    const long = shortPayload({ text: 'x'.repeat(500) });
    expect(long).toHaveLength(100);
    expect(long.endsWith('…')).toBe(true);
  });

  it('draws the progress bar', () => {
    expect(progressBar(8, 20)).toBe('[########------------] 8/20 40%');
    expect(progressBar(0, 3)).toBe('[--------------------] 0/3 0%');
    expect(progressBar(3, 3)).toBe('[####################] 3/3 100%');
    expect(progressBar(0, 0)).toBe('[####################] 0/0 100%');
  });

  it('counts finished steps from the events, a retried step only once', () => {
    const progress = new StepProgress(['a', 'b', 'c']);
    for (const e of [
      event(1, 'step.ready', 'a'),
      event(2, 'step.started', 'a'),
      event(3, 'step.retrying', 'a'),
      event(4, 'step.started', 'a'),
      event(5, 'step.completed', 'a'),
      event(6, 'step.skipped', 'b'),
      event(7, 'step.ready', 'c'),
    ]) {
      progress.apply(e);
    }
    expect([progress.done, progress.total]).toEqual([2, 3]);
    expect(progress.waitingForWorker).toBe(true);
    progress.apply(event(8, 'step.started', 'c'));
    expect(progress.waitingForWorker).toBe(false);
  });

  it('tells how to decide a checkpoint, with the decisions the checkpoint allows', () => {
    const requested = event(5, 'checkpoint.requested', 'draft', {
      approvalId: 'ap-1',
      prompt: 'Publish?',
      decisions: ['continue', 'abort'],
    });
    expect(approvalHint(requested, 'global')).toEqual([
      '  Step draft waits for approval ap-1: Publish?',
      '  Decide with: npm run cli -- approvals:decide ap-1 continue|abort',
    ]);
    expect(approvalHint(event(5, 'checkpoint.requested', 'draft', { approvalId: 'ap-2' }), 'acme')[1]).toBe(
      '  Decide with: npm run cli -- approvals:decide ap-2 continue|retry|skip|abort --org acme',
    );
    expect(approvalHint(event(6, 'run.awaiting_approval'), 'global')).toEqual([]);
  });
});

describe('followRun', () => {
  const target = { organizationId: 'org', organizationSlug: 'global', runId: 'run', stepKeys: ['a', 'b'] };
  const run = [
    event(1, 'run.created'),
    event(2, 'step.ready', 'a'),
    event(3, 'step.started', 'a'),
    event(4, 'step.completed', 'a'),
    event(5, 'checkpoint.requested', 'b', { approvalId: 'ap-9' }),
    event(6, 'step.completed', 'b'),
    event(7, 'run.completed', null, { output: { ok: true } }),
  ];

  it('prints each event once across polls, bars on their own lines when not a TTY, and returns the terminal event', async () => {
    let text = '';
    const end = await followRun(logOf(run, 2), target, {
      verbose: true,
      tty: false,
      idleHintMs: null,
      pollMs: 1,
      write: (t) => (text += t),
    });
    expect(end).toMatchObject({ kind: 'ended', type: 'run.completed', payload: { output: { ok: true } } });
    const lines = text.trimEnd().split('\n');
    expect(lines.filter((l) => /#\d+/.test(l)).map((l) => /#(\d+)/.exec(l)?.[1])).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(lines.filter((l) => l.startsWith('['))).toEqual([
      '[--------------------] 0/2 0%',
      '[##########----------] 1/2 50%',
      '[####################] 2/2 100%',
    ]);
    expect(lines).toContain('  Decide with: npm run cli -- approvals:decide ap-9 continue|retry|skip|abort');
  });

  it('redraws the bar in place on a TTY', async () => {
    let text = '';
    await followRun(logOf(run), target, { verbose: true, tty: true, idleHintMs: null, pollMs: 1, write: (t) => (text += t) });
    expect(text).toContain('\r\x1b[2K[##########----------] 1/2 50%');
    // What the terminal shows: on each line, what was written after the last "clear line".
    const shown = text.split('\n').map((line) => line.split('\r\x1b[2K').pop() as string);
    expect(shown.filter((l) => /#\d+/.test(l))).toHaveLength(7);
    expect(shown.filter((l) => l.startsWith('['))).toEqual(['[####################] 2/2 100%']);
    expect(text.endsWith('[####################] 2/2 100%\n')).toBe(true);
  });

  it('without --follow prints only the approval hint; warns once when no worker takes a ready step', async () => {
    let text = '';
    const warnings: string[] = [];
    const stalled = [event(1, 'run.created'), event(2, 'step.ready', 'a')];
    const controller = new AbortController();
    const following = followRun(logOf(stalled), target, {
      verbose: false,
      tty: false,
      idleHintMs: 30,
      pollMs: 5,
      signal: controller.signal,
      write: (t) => (text += t),
      warn: (line) => warnings.push(line),
    });
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    expect(await following).toEqual({ kind: 'interrupted' });
    expect(text).toBe('');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('pass --work');
  });
});
