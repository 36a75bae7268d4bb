import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '#config';

/** Metric names a PromQL expression refers to (histogram suffixes stripped). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(baton_[a-z_]+|nodejs_[a-z0-9_]+)\b/g)].map((m) => m[1].replace(/_(bucket|count|sum)$/, ''));
}

describe('dashboard and alert rules', () => {
  const root = projectRoot();
  const documented = new Set([...readFileSync(join(root, 'docs/observability.md'), 'utf8').matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]));

  it('every baton_ metric the dashboard and the alert rules use is documented in docs/observability.md', () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'docs/grafana-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const rules = parse(readFileSync(join(root, 'deploy/alert-rules.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const used = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr))].flatMap(metricNames);
    const missing = [...new Set(used.filter((name) => name.startsWith('baton_') && !documented.has(name)))];
    expect(missing).toEqual([]);
    expect(rules.groups[0].rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['BatonReadyQueueStuck', 'BatonWebhookDeadLetters', 'BatonAgentBreakerOpen', 'BatonApprovalsPastSla']));
  });
});
