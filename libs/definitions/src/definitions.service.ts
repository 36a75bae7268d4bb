/**
 * Definitions: validated on every save, versioned, never edited in place. A save computes the next version
 * from the latest one and inserts it; the unique (organization, slug, version) constraint makes concurrent
 * saves of the same version fail (409) instead of overwriting, so a run's pinned version never changes.
 */
import { Injectable } from '@nestjs/common';
import {
  DomainError,
  isBuiltinAgent,
  type DefinitionSpec,
  type DefinitionStatus,
  type Page,
  type PageRequest,
  type ProblemDetail,
} from '#core';
import { AgentsRepository, DefinitionsRepository, DefinitionVersionTaken, type OrchestrationDefinitionEntity } from '#persistence';
import { referencedNames } from './definition-checks.js';
import { diffDefinitions, sameJson, type DefinitionDiff } from './definition-diff.js';
import { parseDefinitionSource } from './definition-source.js';
import { validateDefinitionDocument, type ValidationReport } from './definition-validator.js';

export interface DefinitionListFilter {
  status?: DefinitionStatus;
  slug?: string;
  /** Case-insensitive substring of slug or name. */
  search?: string;
  /** Only the newest version of each slug (default true). */
  latestOnly?: boolean;
}

export type ApplyAction = 'created' | 'versioned' | 'unchanged';

export interface ApplyResult {
  action: ApplyAction;
  definition: OrchestrationDefinitionEntity;
}

/** How often `apply` re-reads the latest version when a concurrent save took the version it computed. */
const APPLY_ATTEMPTS = 3;

function invalid(problems: ProblemDetail[]): DomainError {
  const shown = problems.slice(0, 3).map((p) => `${p.path} ${p.message}`);
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
  return DomainError.validation(`Definition is invalid: ${shown.join('; ')}${more}`, problems);
}

@Injectable()
export class DefinitionsService {
  constructor(
    private readonly definitions: DefinitionsRepository,
    private readonly agents: AgentsRepository,
  ) {}

  /** Parses (object, or YAML/JSON text) and validates against the organization's agents and definitions; never saves. */
  async validate(organizationId: string, raw: unknown): Promise<ValidationReport> {
    const source = parseDefinitionSource(raw);
    if (source.problems.length > 0) return { valid: false, problems: source.problems };
    return this.validateDocument(organizationId, source.document);
  }

  /** Version 1 of a new slug. 409 when the slug exists (in any status), 400 with every problem when invalid. */
  async create(organizationId: string, raw: unknown, actorUserId: string | null): Promise<OrchestrationDefinitionEntity> {
    const spec = await this.validSpec(organizationId, raw);
    if (await this.definitions.findLatest(organizationId, spec.slug)) throw this.exists(spec.slug);
    try {
      return await this.definitions.insertVersion(organizationId, 1, { spec, status: 'active', createdBy: actorUserId });
    } catch (error) {
      if (error instanceof DefinitionVersionTaken) throw this.exists(spec.slug);
      throw error;
    }
  }

  /** The next version of an existing slug (PUT); older versions stay as they were. The same content saves nothing. */
  async createVersion(
    organizationId: string,
    slug: string,
    raw: unknown,
    actorUserId: string | null,
  ): Promise<OrchestrationDefinitionEntity> {
    const latest = await this.definitions.findLatest(organizationId, slug);
    if (!latest) throw DomainError.notFound('Definition', slug);
    const source = parseDefinitionSource(raw);
    if (source.problems.length > 0) throw invalid(source.problems);
    const report = await this.validateDocument(organizationId, source.document);
    const problems = [...report.problems];
    const bodySlug = (source.document as { slug?: unknown }).slug;
    if (typeof bodySlug === 'string' && bodySlug !== slug) {
      problems.unshift({ path: '$.slug', message: `must equal the slug in the path ("${slug}")`, code: 'slug_mismatch' });
    }
    if (problems.length > 0 || !report.spec) throw invalid(problems);
    // The content of the latest active version again: nothing to save (as `definitions:apply` reports "unchanged").
    if (latest.status === 'active' && sameJson(latest.spec, report.spec)) return latest;
    try {
      return await this.definitions.insertVersion(organizationId, latest.version + 1, {
        spec: report.spec,
        status: 'active',
        createdBy: actorUserId,
      });
    } catch (error) {
      if (error instanceof DefinitionVersionTaken) {
        throw DomainError.conflict(`Version ${latest.version + 1} of ${slug} was just saved by another request; read it and retry`);
      }
      throw error;
    }
  }

  /**
   * Create-or-version, idempotent (seeds and `definitions:apply`): a new version only when the spec differs
   * from the latest version, or when the latest is archived (applying it again makes it active again).
   */
  async apply(organizationId: string, raw: unknown, actorUserId: string | null): Promise<ApplyResult> {
    const spec = await this.validSpec(organizationId, raw);
    for (let attempt = 1; ; attempt++) {
      const latest = await this.definitions.findLatest(organizationId, spec.slug);
      if (latest && latest.status === 'active' && sameJson(latest.spec, spec)) return { action: 'unchanged', definition: latest };
      try {
        const definition = await this.definitions.insertVersion(organizationId, (latest?.version ?? 0) + 1, {
          spec,
          status: 'active',
          createdBy: actorUserId,
        });
        return { action: latest ? 'versioned' : 'created', definition };
      } catch (error) {
        if (!(error instanceof DefinitionVersionTaken) || attempt >= APPLY_ATTEMPTS) {
          throw error instanceof DefinitionVersionTaken
            ? DomainError.conflict(`Definition ${spec.slug} is being saved concurrently; retry`)
            : error;
        }
      }
    }
  }

  /** The latest active version, or the given version in any status (runs pinned to archived versions stay readable). */
  async get(organizationId: string, slug: string, version?: number): Promise<OrchestrationDefinitionEntity> {
    const found =
      version === undefined
        ? await this.definitions.findLatestActive(organizationId, slug)
        : await this.definitions.findVersion(organizationId, slug, version);
    if (!found) throw DomainError.notFound('Definition', version === undefined ? slug : `${slug} v${version}`);
    return found;
  }

  /** Every version of `slug`, oldest first, whatever its status. */
  async versions(organizationId: string, slug: string): Promise<OrchestrationDefinitionEntity[]> {
    const versions = await this.definitions.listVersions(organizationId, slug);
    if (versions.length === 0) throw DomainError.notFound('Definition', slug);
    return versions;
  }

  list(organizationId: string, filter: DefinitionListFilter, page: PageRequest): Promise<Page<OrchestrationDefinitionEntity>> {
    return this.definitions.findByOrganization(organizationId, { ...filter, latestOnly: filter.latestOnly ?? true }, page);
  }

  /** Archives one version, or every version; answers how many versions changed status (0 when already archived). */
  async archive(organizationId: string, slug: string, version?: number): Promise<number> {
    const exists =
      version === undefined
        ? await this.definitions.findLatest(organizationId, slug)
        : await this.definitions.findVersion(organizationId, slug, version);
    if (!exists) throw DomainError.notFound('Definition', version === undefined ? slug : `${slug} v${version}`);
    return this.definitions.archive(organizationId, slug, version);
  }

  async diff(organizationId: string, slug: string, from: number, to: number): Promise<DefinitionDiff> {
    const [before, after] = await Promise.all([
      this.definitions.findVersion(organizationId, slug, from),
      this.definitions.findVersion(organizationId, slug, to),
    ]);
    if (!before) throw DomainError.notFound('Definition', `${slug} v${from}`);
    if (!after) throw DomainError.notFound('Definition', `${slug} v${to}`);
    return diffDefinitions(slug, before, after);
  }

  private async validateDocument(organizationId: string, document: unknown): Promise<ValidationReport> {
    const names = referencedNames(document);
    const [agents, activeDefinitions, capabilities, orchestrationGraph] = await Promise.all([
      this.agents.existingSlugs(
        organizationId,
        names.agents.filter((slug) => !isBuiltinAgent(slug)),
      ),
      this.definitions.activeSlugs(organizationId, names.orchestrations),
      this.agents.offeredCapabilities(organizationId, names.capabilities),
      this.orchestrationGraph(organizationId, names.orchestrations),
    ]);
    return validateDefinitionDocument(document, { agents, activeDefinitions, capabilities, orchestrationGraph });
  }

  /** Which sub-orchestrations each definition reachable from `slugs` runs (latest active versions), level by level. */
  private async orchestrationGraph(organizationId: string, slugs: string[]): Promise<Map<string, string[]>> {
    const graph = new Map<string, string[]>();
    let frontier = [...new Set(slugs)];
    for (let level = 0; frontier.length > 0 && level < 50; level++) {
      const specs = await this.definitions.latestActiveSpecs(organizationId, frontier);
      for (const slug of frontier) graph.set(slug, specs.has(slug) ? referencedNames(specs.get(slug)).orchestrations : []);
      frontier = [...new Set([...graph.values()].flat())].filter((slug) => !graph.has(slug));
    }
    return graph;
  }

  private async validSpec(organizationId: string, raw: unknown): Promise<DefinitionSpec> {
    const report = await this.validate(organizationId, raw);
    if (!report.valid || !report.spec) throw invalid(report.problems);
    return report.spec;
  }

  private exists(slug: string): DomainError {
    return DomainError.conflict(`Definition ${slug} already exists: PUT /orchestrations/definitions/${slug} stores a new version`);
  }
}
