/**
 * Idempotent seed data: organization `global`, its admin, the base agents, the example definitions of
 * seeds/definitions and the demo KPI rows (schema kpi_demo). Every step checks before it inserts (ON CONFLICT DO NOTHING, and definitions are applied
 * as "unchanged" when identical), so a second run leaves every row as it was. Used by `npm run cli -- db:seed`
 * and by the API at start when BATON_AUTO_MIGRATE is true.
 */
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { join } from 'node:path';
import { APP_CONFIG, CONFIG_VARIABLES, projectRoot, type AppConfig } from '#config';
import { DomainError, type ProblemDetail } from '#core';
import { DefinitionsService } from '#definitions';
import { hashPassword } from '#identity';
import { AgentsRepository, KpiDemoRepository, OrganizationsRepository, UsersRepository } from '#persistence';
import { BASE_AGENTS } from './base-agents.js';
import { readDefinitionFiles } from './definition-files.js';
import { kpiDemoRows } from './kpi-demo-data.js';

export const GLOBAL_ORGANIZATION = { slug: 'global', name: 'Global' } as const;

export interface SeedDependencies {
  config: Pick<AppConfig, 'adminEmail' | 'adminPassword' | 'nodeEnv'>;
  organizations: OrganizationsRepository;
  users: UsersRepository;
  agents: AgentsRepository;
  definitions: Pick<DefinitionsService, 'apply'>;
  /** Seeds the demo KPI tables (schema kpi_demo) when given. */
  kpiDemo?: Pick<KpiDemoRepository, 'insertMissing'>;
  /** Where the definition files are; defaults to `<projectRoot>/seeds/definitions` (works from dist/ too). */
  definitionsDir?: string;
}

export interface SeedCounts {
  created: number;
  unchanged: number;
}

export interface SeedSummary {
  organizations: SeedCounts;
  users: SeedCounts;
  agents: SeedCounts;
  definitions: { created: number; versioned: number; unchanged: number };
  /** Rows of the demo KPI tables inserted by this run (0 once they are there). */
  kpiDemoRows: { created: number };
}

/** A seed file that does not validate: seeds fail loudly rather than start a half-seeded install. */
export class SeedDefinitionError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ProblemDetail[],
    cause?: unknown,
  ) {
    super(`Seed definition ${file} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { cause });
    this.name = 'SeedDefinitionError';
  }
}

export function defaultDefinitionsDir(): string {
  return join(projectRoot(), 'seeds', 'definitions');
}

const DEFAULT_ADMIN_PASSWORD = CONFIG_VARIABLES.find((v) => v.name === 'ADMIN_PASSWORD')?.default;

function isContext(source: INestApplicationContext | SeedDependencies): source is INestApplicationContext {
  return typeof (source as INestApplicationContext).get === 'function' && !('organizations' in source);
}

/** The seed dependencies of a Nest application (the API, or the CLI context). */
export function seedDependencies(app: INestApplicationContext): SeedDependencies {
  return {
    config: app.get<AppConfig>(APP_CONFIG, { strict: false }),
    organizations: app.get(OrganizationsRepository, { strict: false }),
    users: app.get(UsersRepository, { strict: false }),
    agents: app.get(AgentsRepository, { strict: false }),
    definitions: app.get(DefinitionsService, { strict: false }),
    kpiDemo: app.get(KpiDemoRepository, { strict: false }),
  };
}

export async function runSeeds(source: INestApplicationContext | SeedDependencies): Promise<SeedSummary> {
  const deps = isContext(source) ? seedDependencies(source) : source;
  const summary: SeedSummary = {
    organizations: { created: 0, unchanged: 0 },
    users: { created: 0, unchanged: 0 },
    agents: { created: 0, unchanged: 0 },
    definitions: { created: 0, versioned: 0, unchanged: 0 },
    kpiDemoRows: { created: 0 },
  };

  const existed = await deps.organizations.findBySlug(GLOBAL_ORGANIZATION.slug);
  const organization = existed ?? (await deps.organizations.ensure(GLOBAL_ORGANIZATION.slug, GLOBAL_ORGANIZATION.name));
  summary.organizations[existed ? 'unchanged' : 'created']++;

  const adminId = await seedAdmin(deps, organization.id, summary.users);

  for (const agent of BASE_AGENTS) {
    const inserted = await deps.agents.insertIfAbsent(organization.id, agent);
    summary.agents[inserted ? 'created' : 'unchanged']++;
  }

  for (const file of readDefinitionFiles(deps.definitionsDir ?? defaultDefinitionsDir())) {
    try {
      const { action } = await deps.definitions.apply(organization.id, file.text, adminId);
      summary.definitions[action]++;
    } catch (error) {
      if (error instanceof DomainError) {
        const problems = Array.isArray(error.details) ? (error.details as ProblemDetail[]) : [{ path: '$', message: error.message }];
        throw new SeedDefinitionError(file.path, problems, error);
      }
      throw error;
    }
  }
  if (deps.kpiDemo) summary.kpiDemoRows.created = await deps.kpiDemo.insertMissing(kpiDemoRows());
  const d = summary.definitions;
  new Logger('Seeds').log(
    `organization ${GLOBAL_ORGANIZATION.slug}: ${summary.users.created} user(s), ${summary.agents.created} agent(s), ` +
      `${d.created} definition(s) created; ${d.versioned} new definition version(s); ${d.unchanged} definition(s) unchanged; ` +
      `${summary.kpiDemoRows.created} demo KPI row(s)`,
  );
  return summary;
}

/** Inserts the admin of `global` unless the email exists; returns its id when it belongs to `global`. */
async function seedAdmin(deps: SeedDependencies, organizationId: string, counts: SeedCounts): Promise<string | null> {
  const email = deps.config.adminEmail;
  let user = await deps.users.findForLogin(email);
  if (user) {
    counts.unchanged++;
  } else {
    if (deps.config.nodeEnv === 'production' && deps.config.adminPassword === DEFAULT_ADMIN_PASSWORD) {
      throw new Error('Refusing to seed the admin with the development password in production: set ADMIN_PASSWORD.');
    }
    const inserted = await deps.users.insertIfAbsent(organizationId, {
      email,
      passwordHash: await hashPassword(deps.config.adminPassword),
      role: 'admin',
      displayName: 'Administrator',
    });
    counts[inserted ? 'created' : 'unchanged']++;
    user = await deps.users.findForLogin(email);
  }
  return user && user.organizationId === organizationId ? user.id : null;
}
