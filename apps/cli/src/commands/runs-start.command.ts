import type { Command } from 'commander';
import { DomainError, DomainErrorCode, type JsonValue } from '#core';
import { RunQueryService, RunStarter } from '#engine';
import { CliError, ExitCode } from '../cli-errors.js';
import { CLI_ACTOR, withEngineContext } from '../cli-engine.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, err, out } from '../cli-settings.js';
import { parsePositiveInt, parseRunInput } from '../runs/run-arguments.js';
import { followRun, type FollowEnd } from '../runs/run-follower.js';
import { shortPayload } from '../runs/run-progress.js';

interface RunsStartOptions {
  input: string;
  version?: string;
  idempotencyKey?: string;
  follow?: boolean;
  work?: boolean;
  org: string;
}

const IDLE_HINT_MS = 5000;
const OUTPUT_CHARS = 2000;

export function registerRunsStart(program: Command): void {
  program
    .command('runs:start')
    .description('Start a run of a definition; --follow prints its events and progress until it ends, --work runs it in this process')
    .argument('<slug>', 'definition to run (its latest active version unless --version)')
    .requiredOption('--input <json|@file>', 'run input as JSON, or @path to a JSON file')
    .option('--version <n>', 'run this version of the definition')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the first run instead of starting another')
    .option('--follow', 'print each event and a progress bar until the run ends; exit 0 if it completed, 1 otherwise')
    .option('--work', 'run an engine worker in this process until the run ends (nothing else needs to be running)')
    .option('--org <slug>', 'organization to run in', 'global')
    .action(async (slug: string, options: RunsStartOptions, command: Command) => {
      const input = parseRunInput(options.input);
      const version = options.version === undefined ? undefined : parsePositiveInt(options.version, '--version');
      const { config, logLevel } = cliSettings(command);
      const wait = options.follow === true || options.work === true;
      await withEngineContext(config, logLevel, { work: options.work }, async (app) => {
        const organization = await findOrganization(app, options.org);
        const { run, created } = await app
          .get(RunStarter, { strict: false })
          .start({
            organizationId: organization.id,
            definition: slug,
            version,
            input,
            idempotencyKey: options.idempotencyKey ?? null,
            actorUserId: CLI_ACTOR.id,
          })
          .catch((error: unknown) => {
            if (error instanceof DomainError && error.code === DomainErrorCode.NotFound) {
              throw new CliError(`${error.message} in organization ${organization.slug}`, ExitCode.Failure, [
                'Save it first with `npm run cli -- definitions:apply <file>` (the seeded examples are in seeds/definitions/).',
              ]);
            }
            throw error;
          });
        out(
          created
            ? `Started run ${run.id} (${run.definitionSlug} v${run.definitionVersion}).`
            : `Idempotency key "${options.idempotencyKey}" was used before: run ${run.id} (${run.definitionSlug} v${run.definitionVersion}, ${run.status}).`,
        );
        if (!wait) {
          out(`Watch it with \`npm run cli -- runs:get ${run.id}\`; it runs wherever a Baton server or worker runs.`);
          return;
        }
        const queries = app.get(RunQueryService, { strict: false });
        const { steps } = await queries.get(organization.id, run.id);
        const end = await untilInterrupted((signal) =>
          followRun(
            queries,
            { organizationId: organization.id, organizationSlug: organization.slug, runId: run.id, stepKeys: steps.map((s) => s.stepKey) },
            {
              verbose: options.follow === true,
              tty: process.stdout.isTTY === true,
              idleHintMs: options.work ? null : IDLE_HINT_MS,
              signal,
            },
          ),
        );
        reportEnd(run.id, run.createdAt, end);
      });
    });
}

/** Ctrl-C stops waiting (the context then closes, and an in-process worker releases what it holds). */
async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function reportEnd(runId: string, createdAt: Date, end: FollowEnd): void {
  if (end.kind === 'interrupted') {
    err(`Stopped following run ${runId}; the run itself goes on (see \`npm run cli -- runs:get ${runId}\`).`);
    throw new CliError('', ExitCode.Interrupted);
  }
  const seconds = ((end.at.getTime() - createdAt.getTime()) / 1000).toFixed(1);
  const payload = (end.payload ?? {}) as { [key: string]: JsonValue };
  switch (end.type) {
    case 'run.completed': {
      out(`Run ${runId} completed in ${seconds} s.`);
      const output = JSON.stringify(payload.output ?? null);
      out(`Output: ${output.length > OUTPUT_CHARS ? `${output.slice(0, OUTPUT_CHARS)}… (truncated; runs:get prints all of it)` : output}`);
      return;
    }
    case 'run.cancelled': {
      const reason = typeof payload.reason === 'string' ? `: ${payload.reason}` : '';
      throw new CliError(`Run ${runId} was cancelled after ${seconds} s${reason}`, ExitCode.Failure);
    }
    default:
      throw new CliError(`Run ${runId} failed after ${seconds} s: ${describeFailure(payload.error ?? null)}`, ExitCode.Failure);
  }
}

/** `step <key>: <message>` for a step failure (the run error is `{ step, error }`), else the error as JSON. */
function describeFailure(error: JsonValue): string {
  if (error && typeof error === 'object' && !Array.isArray(error)) {
    const inner = error.error;
    if (
      typeof error.step === 'string' &&
      inner &&
      typeof inner === 'object' &&
      !Array.isArray(inner) &&
      typeof inner.message === 'string'
    ) {
      return `step ${error.step}: ${inner.message}`;
    }
    if (typeof error.message === 'string') return error.message;
  }
  return shortPayload(error, 300) || 'no error recorded';
}
