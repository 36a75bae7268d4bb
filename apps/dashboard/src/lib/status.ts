/**
 * How a run or step state is shown: a colour class, an icon and the words, so the state never depends on colour
 * alone (the icon has the same meaning for a reader who cannot tell the colours apart).
 */
export interface StatusLook {
  label: string;
  icon: string;
  tone: 'neutral' | 'info' | 'active' | 'warn' | 'ok' | 'bad' | 'muted';
}

const LOOKS: Record<string, StatusLook> = {
  pending: { label: 'Pending', icon: '○', tone: 'neutral' },
  ready: { label: 'Ready', icon: '◔', tone: 'info' },
  running: { label: 'Running', icon: '▶', tone: 'active' },
  waiting: { label: 'Waiting on child runs', icon: '…', tone: 'active' },
  awaiting_approval: { label: 'Awaiting approval', icon: '‖', tone: 'warn' },
  completed: { label: 'Completed', icon: '✓', tone: 'ok' },
  failed: { label: 'Failed', icon: '✕', tone: 'bad' },
  skipped: { label: 'Skipped', icon: '↷', tone: 'muted' },
  cancelled: { label: 'Cancelled', icon: '⊘', tone: 'muted' },
  compensating: { label: 'Compensating', icon: '↺', tone: 'warn' },
  compensated: { label: 'Compensated', icon: '↺', tone: 'muted' },
  resolved: { label: 'Resolved', icon: '✓', tone: 'ok' },
  expired: { label: 'Expired', icon: '⊘', tone: 'muted' },
  delivered: { label: 'Delivered', icon: '✓', tone: 'ok' },
  delivering: { label: 'Delivering', icon: '▶', tone: 'active' },
  dead: { label: 'Dead letter', icon: '✕', tone: 'bad' },
  open: { label: 'Open', icon: '✕', tone: 'bad' },
  half_open: { label: 'Half open', icon: '◐', tone: 'warn' },
  closed: { label: 'Closed', icon: '✓', tone: 'ok' },
  active: { label: 'Active', icon: '✓', tone: 'ok' },
  disabled: { label: 'Disabled', icon: '⊘', tone: 'muted' },
  healthy: { label: 'Healthy', icon: '✓', tone: 'ok' },
  degraded: { label: 'Degraded', icon: '!', tone: 'warn' },
  unhealthy: { label: 'Unhealthy', icon: '✕', tone: 'bad' },
  unknown: { label: 'No heartbeat yet', icon: '?', tone: 'neutral' },
  draft: { label: 'Draft', icon: '✎', tone: 'neutral' },
  archived: { label: 'Archived', icon: '⊘', tone: 'muted' },
};

export function statusLook(status: string): StatusLook {
  return LOOKS[status] ?? { label: status.replace(/_/g, ' '), icon: '•', tone: 'neutral' };
}
