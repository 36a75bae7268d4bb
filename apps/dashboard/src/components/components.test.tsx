import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeStep } from '../test-fixtures';
import type { ChildRun } from '../api/types';
import { ChildRuns } from './child-runs';
import { Dag, edgePaths } from './dag';
import { SchemaForm } from './schema-form';
import { StatusBadge } from './states';

afterEach(cleanup);

const step = makeStep;

describe('StatusBadge', () => {
  it('says the state in words and with an icon, not by colour alone', () => {
    render(<StatusBadge status="awaiting_approval" />);
    const badge = screen.getByText('Awaiting approval');
    expect(badge.textContent).toBe('‖Awaiting approval');
    expect(badge.querySelector('[aria-hidden="true"]')?.textContent).toBe('‖');
  });
});

describe('Dag', () => {
  it('renders each step as a labelled, keyboard-selectable node', () => {
    const onSelect = vi.fn();
    render(<Dag steps={[step('fetch', 'completed'), step('analyze', 'running', ['fetch'])]} selected={null} onSelect={onSelect} />);
    const node = screen.getByRole('button', { name: 'analyze: Running' });
    expect(screen.getByRole('button', { name: 'fetch: Completed' })).toBeTruthy();
    fireEvent.keyDown(node, { key: 'Enter' });
    expect(onSelect).toHaveBeenCalledWith('analyze');
    fireEvent.click(screen.getByRole('button', { name: 'fetch: Completed' }));
    expect(onSelect).toHaveBeenLastCalledWith('fetch');
  });

  it('draws every edge in one path and every arrowhead in another, the tip on the end of the edge', () => {
    const { container } = render(<Dag steps={[step('a'), step('b', 'pending', ['a']), step('c', 'pending', ['a'])]} selected={null} onSelect={() => undefined} />);
    expect(container.querySelector('path.dag-edge')?.getAttribute('d')?.match(/M/g)).toHaveLength(2);
    expect(container.querySelector('path.dag-arrow')?.getAttribute('d')?.match(/Z/g)).toHaveLength(2);
    const bent = [{ x: 0, y: 0 }, { x: 10, y: 5 }, { x: 30, y: 5 }];
    expect(edgePaths([{ from: 'a', to: 'b', points: bent }])).toEqual({ lines: 'M0,0L10,5L30,5', arrows: 'M30,5L20.2,9.9L20.2,0.1Z' });
    expect(edgePaths([{ from: 'a', to: 'b', points: [] }])).toEqual({ lines: '', arrows: '' });
  });

  it("says how many of a sub-orchestration step's child runs finished", () => {
    const fan = { ...step('each', 'waiting'), type: 'orchestration', children: { total: 20, started: 7, finished: 2 } };
    render(<Dag steps={[fan]} selected={null} onSelect={() => undefined} />);
    const node = screen.getByRole('button', { name: 'each: Waiting on child runs, 2 of 20 child runs finished' });
    expect(node.textContent).toContain('2/20');
  });
});

describe('ChildRuns', () => {
  const child = (id: string, stepKey: string, index: number | null, status: ChildRun['status'] = 'running'): ChildRun => ({
    id: `${id}0000000-0000-4000-8000-000000000000`.slice(0, 36),
    definition: 'child-def',
    version: 2,
    status,
    stepKey,
    attempt: 1,
    index,
    percent: status === 'completed' ? 100 : 50,
    createdAt: new Date(0).toISOString(),
    completedAt: null,
  });

  it("groups child runs by the step that started them, with each step's counters, forEach item and a link to the child", () => {
    const onSelectStep = vi.fn();
    const each = { ...step('each', 'waiting'), type: 'orchestration', children: { total: 3, started: 2, finished: 1 } };
    const one = { ...step('one', 'waiting'), type: 'orchestration', children: { total: 1, started: 1, finished: 0 } };
    render(<ChildRuns steps={[each, one]} runs={[child('a', 'each', 0, 'completed'), child('b', 'each', 1), child('c', 'one', null)]} onSelectStep={onSelectStep} />);
    const table = screen.getByRole('table', { name: 'Child runs of step each' });
    expect(table.querySelectorAll('tbody tr')).toHaveLength(2);
    expect(screen.getByText('2 of 3 started, 1 finished')).toBeTruthy();
    const link = screen.getByRole('link', { name: 'Child run b0000000, item 1' });
    expect(link.getAttribute('href')).toBe(`/dashboard/runs/${child('b', 'each', 1).id}`);
    expect(screen.getByRole('table', { name: 'Child runs of step one' }).textContent).toContain('—');
    fireEvent.click(screen.getByRole('button', { name: 'Select step one in the graph' }));
    expect(onSelectStep).toHaveBeenCalledWith('one');
  });

  it('shows the first rows of a large fan-out and the rest on request', () => {
    const many = Array.from({ length: 120 }, (_, i) => child(String(i % 10), 'each', i, 'completed'));
    render(<ChildRuns steps={[]} runs={many.map((c, i) => ({ ...c, id: `${c.id.slice(0, 30)}${String(i).padStart(6, '0')}` }))} onSelectStep={() => undefined} />);
    expect(screen.getByRole('table').querySelectorAll('tbody tr')).toHaveLength(50);
    fireEvent.click(screen.getByRole('button', { name: 'Show all 120 child runs' }));
    expect(screen.getByRole('table').querySelectorAll('tbody tr')).toHaveLength(120);
  });
});

describe('SchemaForm', () => {
  const schema = { type: 'object', required: ['message'], properties: { message: { type: 'string', minLength: 3 } } };

  it('shows the schema problems at their field and does not submit', () => {
    const onSubmit = vi.fn();
    render(<SchemaForm idPrefix="t" schema={schema} submitLabel="Start" onSubmit={onSubmit} />);
    fireEvent.change(screen.getByLabelText(/message/), { target: { value: 'hi' } });
    fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByText('must NOT have fewer than 3 characters')).toBeTruthy();
    expect(screen.getByLabelText(/message/).getAttribute('aria-invalid')).toBe('true');
  });

  it('submits the input once it is valid', () => {
    const onSubmit = vi.fn();
    render(<SchemaForm idPrefix="t" schema={schema} submitLabel="Start" onSubmit={onSubmit} />);
    fireEvent.change(screen.getByLabelText(/message/), { target: { value: 'hello' } });
    fireEvent.click(screen.getByRole('button', { name: 'Start' }));
    expect(onSubmit).toHaveBeenCalledWith({ message: 'hello' });
  });
});
