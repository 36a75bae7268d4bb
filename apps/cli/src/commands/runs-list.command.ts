import { Option, type Command } from 'commander';
import { RUN_STATUSES, type RunStatus } from '#core';
import { RunQueryService, runView } from '#engine';
import { withEngineContext } from '../cli-engine.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';
import { parsePositiveInt } from '../runs/run-arguments.js';

interface RunsListOptions {
  status?: RunStatus;
  definition?: string;
  limit: string;
  offset: string;
  json?: boolean;
  org: string;
}

const MAX_LIMIT = 500;

export function registerRunsList(program: Command): void {
  program
    .command('runs:list')
    .description('List runs of the organization, newest first')
    .addOption(new Option('--status <status>', 'only runs in this state').choices(RUN_STATUSES))
    .option('--definition <slug>', 'only runs of this definition')
    .option('--limit <n>', `how many runs (at most ${MAX_LIMIT})`, '20')
    .option('--offset <n>', 'skip this many runs first', '0')
    .option('--json', 'print the page as JSON (the same fields as GET /orchestrations/runs)')
    .option('--org <slug>', 'organization whose runs to list', 'global')
    .action(async (options: RunsListOptions, command: Command) => {
      const limit = Math.min(parsePositiveInt(options.limit, '--limit'), MAX_LIMIT);
      const offset = options.offset === '0' ? 0 : parsePositiveInt(options.offset, '--offset');
      const { config, logLevel } = cliSettings(command);
      const page = await withEngineContext(config, logLevel, {}, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app
          .get(RunQueryService, { strict: false })
          .list(organization.id, { status: options.status, definition: options.definition }, { limit, offset });
      });
      if (options.json) {
        out(JSON.stringify({ ...page, items: page.items.map((run) => runView(run)) }, null, 2));
        return;
      }
      if (page.items.length === 0) {
        out(page.total === 0 ? 'No runs.' : `No runs at offset ${offset} (${page.total} in all).`);
        return;
      }
      const rows = page.items.map((run) => [
        run.id,
        `${run.definitionSlug} v${run.definitionVersion}`,
        run.status,
        run.createdAt.toISOString(),
      ]);
      const header = ['ID', 'DEFINITION', 'STATUS', 'CREATED'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const row of [header, ...rows])
        out(
          row
            .map((cell, i) => cell.padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
        );
      out(`${offset + 1}-${offset + page.items.length} of ${page.total} run(s)`);
    });
}
