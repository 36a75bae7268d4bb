import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeStep } from '../test-fixtures';
import { Dag } from './dag';
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
