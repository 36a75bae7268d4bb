import type { AgentDetail, AgentView } from '#agents';
import { out } from '../cli-settings.js';

/** Prints rows under a header, each column as wide as its widest cell. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) out(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}

export function agentRow(agent: AgentView): string[] {
  return [agent.slug, agent.type, agent.status, agent.capabilities.join(',') || '-', agent.health, agent.breaker.state, agent.builtin ? 'built-in' : ''];
}

export const AGENT_HEADER = ['SLUG', 'TYPE', 'STATUS', 'CAPABILITIES', 'HEALTH', 'BREAKER', ''];

const pct = (n: number | null) => (n === null ? '-' : `${Math.round(n * 1000) / 10}%`);
const ms = (n: number | null) => (n === null ? '-' : `${n} ms`);

export function printAgentDetail(agent: AgentDetail): void {
  out(`${agent.slug} (${agent.name})${agent.builtin ? ' [built-in]' : ''}`);
  out(`  type:            ${agent.type}`);
  out(`  status:          ${agent.status}`);
  out(`  capabilities:    ${agent.capabilities.join(', ') || '-'}`);
  out(`  health:          ${agent.health} (last heartbeat ${agent.lastHeartbeatAt ?? 'never'})`);
  out(`  breaker:         ${agent.breaker.state}${agent.breaker.changedAt ? ` since ${agent.breaker.changedAt}` : ''}`);
  out(`  health score:    ${agent.stats.healthScore}`);
  out(`  error rate:      ${pct(agent.stats.errorRate)} over the last ${agent.stats.sampleSize} step(s)`);
  out(`  latency:         avg ${ms(agent.stats.avgLatencyMs)}, p95 ${ms(agent.stats.p95LatencyMs)}`);
  out(`  running now:     ${agent.stats.running}`);
  if (agent.recentSteps.length === 0) {
    out('  recent steps:    none');
    return;
  }
  out('  recent steps:');
  printTable(
    ['    RUN', 'STEP', 'STATUS', 'ATTEMPT', 'ERROR', 'LATENCY', 'FINISHED'],
    agent.recentSteps.map((s) => [`    ${s.runId}`, s.stepKey, s.status, String(s.attempt), s.errorCode ?? '-', ms(s.latencyMs), s.completedAt]),
  );
}
