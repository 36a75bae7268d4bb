/**
 * Baton's command line: `npm run cli -- <command>`. This file only wires commander to the commands and turns
 * failures into messages and exit codes (see cli-errors.ts); each command lives in commands/.
 */
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { DomainError, type ProblemDetail } from '#core';
import { SeedDefinitionError } from '../../../seeds/seed-runner.js';
import { CliError, errorReason, ExitCode } from './cli-errors.js';
import { err } from './cli-settings.js';
import { registerDbMigrate } from './commands/db-migrate.command.js';
import { registerDbReset } from './commands/db-reset.command.js';
import { registerDbRevert } from './commands/db-revert.command.js';
import { registerDbSeed } from './commands/db-seed.command.js';
import { registerDefinitionsApply } from './commands/definitions-apply.command.js';
import { registerDefinitionsValidate } from './commands/definitions-validate.command.js';
import { registerUsersCreate } from './commands/users-create.command.js';
import { registerOrgsCreate } from './commands/orgs-create.command.js';
import { registerRunsCancel } from './commands/runs-cancel.command.js';
import { registerRunsGet } from './commands/runs-get.command.js';
import { registerRunsList } from './commands/runs-list.command.js';
import { registerQueueStatus } from './commands/queue-status.command.js';
import { registerMetrics } from './commands/metrics.command.js';
import { registerRunsStart } from './commands/runs-start.command.js';
import { registerApprovalsDecide } from './commands/approvals-decide.command.js';
import { registerApprovalsList } from './commands/approvals-list.command.js';
import { registerAgentsList } from './commands/agents-list.command.js';
import { registerAgentsInfo } from './commands/agents-info.command.js';
import { registerAgentsApply } from './commands/agents-apply.command.js';
import { registerBreakersStatus } from './commands/breakers-status.command.js';

function buildProgram(): Command {
  const program = new Command('baton')
    .description('Baton: migrations, seeds, definitions, users and runs')
    .option('-v, --verbose', 'show debug logs (default: warnings and errors only, or LOG_LEVEL when set)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [
    registerDbMigrate,
    registerDbRevert,
    registerDbSeed,
    registerDbReset,
    registerDefinitionsValidate,
    registerDefinitionsApply,
    registerOrgsCreate,
    registerUsersCreate,
    registerRunsStart,
    registerRunsList,
    registerRunsGet,
    registerRunsCancel,
    registerApprovalsList,
    registerApprovalsDecide,
    registerQueueStatus,
    registerMetrics,
    registerAgentsList,
    registerAgentsInfo,
    registerAgentsApply,
    registerBreakersStatus,
  ]) {
    register(program);
  }
  return program;
}

function report(error: unknown, verbose: boolean): ExitCode {
  if (error instanceof CommanderError) {
    // Commander has printed the message (or the help) already.
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (error instanceof CliError) {
    if (error.message) err(`Error: ${error.message}`);
    for (const line of error.lines) err(`  ${line}`);
    return error.exitCode;
  }
  if (error instanceof SeedDefinitionError) {
    err(`Error: ${error.message}`);
    return ExitCode.Failure;
  }
  if (error instanceof DomainError) {
    err(`Error: ${error.message}`);
    const problems = Array.isArray(error.details) ? (error.details as ProblemDetail[]) : [];
    for (const problem of problems) err(`  ${problem.path}: ${problem.message}`);
    return ExitCode.Failure;
  }
  err(`Error: ${errorReason(error)}`);
  if (verbose && error instanceof Error && error.stack) err(error.stack);
  return ExitCode.Failure;
}

const program = buildProgram();
let exitCode: ExitCode = ExitCode.Ok;
try {
  if (process.argv.length <= 2) {
    program.outputHelp();
    exitCode = ExitCode.Usage;
  } else {
    await program.parseAsync(process.argv);
  }
} catch (error) {
  exitCode = report(error, program.opts<{ verbose?: boolean }>().verbose === true);
}
// Exit explicitly: a lingering handle (a pool, a timer of a library) must not keep a finished command alive.
process.exit(exitCode);
