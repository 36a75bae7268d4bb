import type { SeedSummary } from '../../../seeds/seed-runner.js';
import { out } from './cli-settings.js';

export function printSeedSummary(summary: SeedSummary): void {
  const counts = (c: { created: number; unchanged: number }) => `${c.created} created, ${c.unchanged} unchanged`;
  out('Seeded organization global:');
  out(`  organizations: ${counts(summary.organizations)}`);
  out(`  users:         ${counts(summary.users)}`);
  out(`  agents:        ${counts(summary.agents)}`);
  const d = summary.definitions;
  out(`  definitions:   ${d.created} created, ${d.versioned} new versions, ${d.unchanged} unchanged`);
}
