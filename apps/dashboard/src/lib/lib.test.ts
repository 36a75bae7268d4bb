import { describe, expect, it, vi } from 'vitest';
import { routeUrl } from '../api/client';
import { API_ROUTES } from '../api/routes';
import type { BatonEvent, Run } from '../api/types';
import { makeStep } from '../test-fixtures';
import { coalesce } from './coalesce';
import { applyEvents, attemptBars, groupTurns, mergeEvents } from './events';
import { FrameBatcher } from './frame-batcher';
import { sessionFromToken } from './jwt';
import { layoutDag } from './layout';
import { fieldsOf, inputFrom, validateAgainst } from './schema';

const event = (seq: number, type: string, stepKey: string | null, payload: Record<string, unknown> = {}, at = seq * 1000): BatonEvent => ({
  id: String(100 + seq),
  runId: 'r1',
  seq,
  type,
  stepKey,
  payload,
  createdAt: new Date(at).toISOString(),
});

const run = (): Run => ({
  id: 'r1',
  definition: 'd',
  version: 1,
  status: 'running',
  input: {},
  output: null,
  error: null,
  priority: 0,
  idempotencyKey: null,
  parentRunId: null,
  createdAt: new Date(0).toISOString(),
  startedAt: null,
  completedAt: null,
  steps: [makeStep('a'), makeStep('b', 'pending', ['a'])],
});

describe('FrameBatcher', () => {
  it('hands a burst over as one batch per frame', () => {
    const frames: (() => void)[] = [];
    const batches: number[][] = [];
    const batcher = new FrameBatcher<number>((items) => batches.push(items), (cb) => frames.push(cb));
    for (let i = 0; i < 1000; i++) batcher.push(i);
    expect(frames).toHaveLength(1);
    frames.shift()!();
    batcher.push(1000);
    frames.shift()!();
    expect(batches.map((b) => b.length)).toEqual([1000, 1]);
  });
});

describe('coalesce', () => {
  it('runs a burst of triggers as the one in flight plus one after it', async () => {
    const releases: (() => void)[] = [];
    const work = vi.fn(() => new Promise<void>((resolve) => releases.push(resolve)));
    const trigger = coalesce(work);
    for (let i = 0; i < 50; i++) trigger();
    expect(work).toHaveBeenCalledTimes(1);
    releases.shift()!();
    await vi.waitFor(() => expect(work).toHaveBeenCalledTimes(2));
    releases.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(work).toHaveBeenCalledTimes(2);
    trigger();
    expect(work).toHaveBeenCalledTimes(3);
  });
});

describe('applyEvents', () => {
  it('moves steps and the run through their states, and keeps the outputs', () => {
    const next = applyEvents(run(), [
      event(1, 'run.started', null),
      event(2, 'step.started', 'a', { attempt: 1 }),
      event(3, 'step.completed', 'a', { attempt: 1, output: { x: 1 } }),
      event(4, 'checkpoint.requested', 'b', { approvalId: 'p' }),
    ]);
    expect(next.status).toBe('running');
    expect(next.steps!.map((s) => s.status)).toEqual(['completed', 'awaiting_approval']);
    expect(next.steps![0]!.output).toEqual({ x: 1 });
    const done = applyEvents(next, [event(5, 'run.completed', null, { output: { b: 2 } })]);
    expect(done).toMatchObject({ status: 'completed', output: { b: 2 } });
  });

  it('ignores events of other runs and returns the same object when nothing changed', () => {
    const r = run();
    expect(applyEvents(r, [{ ...event(1, 'step.started', 'a'), runId: 'other' }])).toBe(r);
  });

  it("sets a child run's status from the parent's step.child_finished, and a replayed event changes nothing", () => {
    const parent: Run = {
      ...run(),
      children: [{ id: 'c1', definition: 'child', version: 1, status: 'running', stepKey: 'b', attempt: 1, index: 0, percent: 50, createdAt: '', completedAt: null }],
    };
    const finished = event(7, 'step.child_finished', 'b', { attempt: 1, childRunId: 'c1', index: 0, status: 'completed' });
    const next = applyEvents(parent, [finished]);
    expect(next.children![0]).toMatchObject({ status: 'completed', percent: 100, completedAt: finished.createdAt });
    expect(parent.children![0]!.status).toBe('running');
    expect(applyEvents(next, [finished])).toBe(next);
  });

  it('merges overlapping pages without duplicates, by seq', () => {
    const merged = mergeEvents([event(1, 'run.started', null), event(2, 'step.started', 'a')], [event(2, 'step.started', 'a'), event(3, 'step.completed', 'a')]);
    expect(merged.map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});

describe('groupTurns', () => {
  it("lists a group step's turns from its group.turn events, in log order", () => {
    const turns = groupTurns(
      [
        event(1, 'step.started', 'talk', { attempt: 1 }),
        event(2, 'group.turn', 'talk', { turn: 1, speaker: 'alice', text: 'hi', selectedBy: 'round-robin' }),
        event(3, 'group.turn', 'other', { turn: 1, speaker: 'zed', text: 'no', selectedBy: 'round-robin' }),
        event(4, 'group.turn', 'talk', { turn: 2, speaker: 'bob', text: 'hello', selectedBy: 'fallback' }),
      ],
      'talk',
    );
    expect(turns).toEqual([
      { turn: 1, speaker: 'alice', text: 'hi', selectedBy: 'round-robin' },
      { turn: 2, speaker: 'bob', text: 'hello', selectedBy: 'fallback' },
    ]);
  });
});

describe('attemptBars', () => {
  it('draws one bar per attempt, ended by the event that finished it', () => {
    const bars = attemptBars([
      event(1, 'step.started', 'a', { attempt: 1 }, 1000),
      event(2, 'step.failed', 'a', { attempt: 1 }, 1500),
      event(3, 'step.started', 'a', { attempt: 2 }, 2000),
      event(4, 'step.completed', 'a', { attempt: 2 }, 2600),
      event(5, 'step.started', 'b', { attempt: 1 }, 2700),
    ]);
    expect(bars).toEqual([
      { stepKey: 'a', attempt: 1, start: 1000, end: 1500, outcome: 'failed' },
      { stepKey: 'a', attempt: 2, start: 2000, end: 2600, outcome: 'completed' },
      { stepKey: 'b', attempt: 1, start: 2700, end: null, outcome: 'running' },
    ]);
  });
});

describe('schema forms', () => {
  const schema = {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1 }, count: { type: 'integer' }, loud: { type: 'boolean' }, tags: { type: 'array' }, tone: { enum: ['a', 'b'] } },
  };

  it('makes one field per property, by type', () => {
    expect(fieldsOf(schema).map((f) => [f.name, f.kind, f.required])).toEqual([
      ['name', 'text', true],
      ['count', 'integer', false],
      ['loud', 'boolean', false],
      ['tags', 'json', false],
      ['tone', 'select', false],
    ]);
  });

  it('builds the input from the values and reports what the schema refuses, with JSON paths', () => {
    const fields = fieldsOf(schema);
    const { input, problems } = inputFrom(fields, { name: '', count: '3', loud: true, tags: '["x"]', tone: 'a' });
    expect(problems).toEqual([]);
    expect(input).toEqual({ count: 3, loud: true, tags: ['x'], tone: 'a' });
    expect(validateAgainst(schema, input)).toEqual([{ path: '$.name', message: "must have required property 'name'" }]);
    expect(inputFrom(fields, { tags: '[oops' }).problems).toEqual([{ path: '$.tags', message: 'is not valid JSON' }]);
  });

  it('falls back to one JSON field without an object schema', () => {
    expect(fieldsOf(undefined)).toMatchObject([{ name: '', kind: 'json' }]);
    expect(inputFrom(fieldsOf(undefined), { '': '{"a":1}' }).input).toEqual({ a: 1 });
  });
});

describe('routes and session', () => {
  it('fills path parameters (encoded) and drops empty query values', () => {
    expect(routeUrl('retryStep', { id: 'r 1', key: 'a/b' }, { x: '', y: 2, z: undefined })).toEqual({
      method: 'POST',
      path: '/orchestrations/runs/r%201/steps/a%2Fb/retry?y=2',
    });
    expect(() => routeUrl('getRun')).toThrow(/missing path parameter id/);
  });

  it('spells every route as METHOD /path', () => {
    for (const route of Object.values(API_ROUTES)) expect(route).toMatch(/^(GET|POST|PUT|DELETE) \/[\w/{}.-]+$/);
  });

  it('reads the role from the JWT payload, and falls back to viewer', () => {
    const payload = btoa(JSON.stringify({ sub: 'u', role: 'approver' })).replace(/=+$/, '');
    expect(sessionFromToken(`h.${payload}.s`, 'a@b', 60, 0)).toEqual({ token: `h.${payload}.s`, email: 'a@b', role: 'approver', expiresAt: 60_000 });
    expect(sessionFromToken('garbage', 'a@b', 60).role).toBe('viewer');
  });
});

describe('layoutDag', () => {
  it('places dependents to the right of their dependencies, and lays out 200 steps', () => {
    const dag = layoutDag([
      { key: 'a', dependsOn: [] },
      { key: 'b', dependsOn: ['a'] },
    ]);
    const [a, b] = dag.nodes;
    expect(b!.x).toBeGreaterThan(a!.x);
    expect(dag.edges).toHaveLength(1);
    const big = Array.from({ length: 200 }, (_, i) => ({ key: `s${i}`, dependsOn: i < 10 ? [] : [`s${i - 10}`] }));
    expect(layoutDag(big).nodes).toHaveLength(200);
  });
});
