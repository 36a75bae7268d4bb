import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import { AgentRunnerRegistry } from '#agents';
import { ApprovalQueryService, DECISIONS, sendDecision, type Decision, type DecisionActor } from '#engine';
import { UsersRepository } from '#persistence';
import { CliError, ExitCode } from '../cli-errors.js';
import { withEngineContext } from '../cli-engine.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';
import { parseRunId, parseRunInput } from '../runs/run-arguments.js';

/**
 * Decides a checkpoint like the REST endpoint does: it builds the A2A resume request and hands it to the
 * orchestration runner. `--as <email>` records the decision as that user (with their role, assignee and quorum
 * rules); without it the terminal operator acts as the system with admin rights.
 */
export function registerApprovalsDecide(program: Command): void {
  program
    .command('approvals:decide')
    .description('Decide a pending approval: continue, retry, skip or abort')
    .argument('<id>', 'approval id')
    .argument('<decision>', DECISIONS.join(' | '))
    .option('--modifications <json>', 'JSON (or @file) merged into the output (continue) or the input (retry)')
    .option('--comment <text>', 'why')
    .option('--as <email>', 'decide as this user of the organization')
    .option('--org <slug>', 'organization', 'global')
    .action(async (id: string, decision: string, options: { modifications?: string; comment?: string; as?: string; org: string }, command: Command) => {
      const approvalId = parseRunId(id);
      if (!(DECISIONS as readonly string[]).includes(decision)) throw new CliError(`decision must be one of ${DECISIONS.join(', ')}`, ExitCode.Usage);
      const modifications = options.modifications === undefined ? undefined : parseRunInput(options.modifications);
      const { config, logLevel } = cliSettings(command);
      const task = await withEngineContext(config, logLevel, {}, async (app) => {
        const organization = await findOrganization(app, options.org);
        const approval = await app.get(ApprovalQueryService, { strict: false }).get(organization.id, approvalId);
        return sendDecision(app.get(AgentRunnerRegistry, { strict: false }), {
          organizationId: organization.id,
          runId: approval.runId,
          definition: approval.definition,
          approvalId,
          decision: decision as Decision,
          modifications,
          comment: options.comment || undefined,
          actor: await actorFor(app, organization.id, options.as),
        });
      });
      const outcome = task.metadata?.decision as { resolved?: boolean; votes?: number; quorum?: number } | undefined;
      if (outcome && outcome.resolved === false) out(`Recorded ${decision} (${outcome.votes} of ${outcome.quorum} votes); the approval waits for more.`);
      else out(`Approval ${approvalId}: ${decision}. Run ${task.id} is now ${task.status.state}.`);
    });
}

async function actorFor(app: INestApplicationContext, organizationId: string, email?: string): Promise<DecisionActor> {
  if (!email) return { type: 'system', id: null, userId: null, role: 'admin' };
  const user = await app.get(UsersRepository, { strict: false }).findForLogin(email);
  if (!user || user.organizationId !== organizationId) throw new CliError(`No user ${email} in this organization`, ExitCode.Failure);
  return { type: 'user', id: user.id, userId: user.id, role: user.role, email: user.email };
}
