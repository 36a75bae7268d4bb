import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Not, type EntityManager, type Repository } from 'typeorm';
import type { DefinitionSpec, DefinitionStatus, Page, PageRequest } from '#core';
import { OrchestrationDefinitionEntity } from '../entities/orchestration-definition.entity.js';
import { DefinitionChanges } from './definition-changes.js';

export interface DefinitionFilter {
  status?: DefinitionStatus;
  slug?: string;
  search?: string;
  /** Only the newest version of each slug. */
  latestOnly?: boolean;
}

export interface NewDefinitionVersion {
  spec: DefinitionSpec;
  status: DefinitionStatus;
  createdBy: string | null;
}

const UNIQUE_VIOLATION = '23505';

export class DefinitionVersionTaken extends Error {}

@Injectable()
export class DefinitionsRepository {
  constructor(
    @InjectRepository(OrchestrationDefinitionEntity) private readonly definitions: Repository<OrchestrationDefinitionEntity>,
    private readonly changes: DefinitionChanges,
  ) {}

  /** Through `manager` inside the caller's transaction. */
  private repo(manager?: EntityManager): Repository<OrchestrationDefinitionEntity> {
    return manager ? manager.getRepository(OrchestrationDefinitionEntity) : this.definitions;
  }

  findById(organizationId: string, id: string): Promise<OrchestrationDefinitionEntity | null> {
    return this.repo().findOneBy({ organizationId, id });
  }

  findVersion(organizationId: string, slug: string, version: number): Promise<OrchestrationDefinitionEntity | null> {
    return this.repo().findOneBy({ organizationId, slug, version });
  }

  /** The highest version of `slug` whose status is active. */
  findLatestActive(organizationId: string, slug: string): Promise<OrchestrationDefinitionEntity | null> {
    return this.repo().findOne({ where: { organizationId, slug, status: 'active' }, order: { version: 'DESC' } });
  }

  findLatest(organizationId: string, slug: string, manager?: EntityManager): Promise<OrchestrationDefinitionEntity | null> {
    return this.repo(manager).findOne({ where: { organizationId, slug }, order: { version: 'DESC' } });
  }

  listVersions(organizationId: string, slug: string): Promise<OrchestrationDefinitionEntity[]> {
    return this.repo().find({ where: { organizationId, slug }, order: { version: 'ASC' } });
  }

  async findByOrganization(organizationId: string, filter: DefinitionFilter, page: PageRequest): Promise<Page<OrchestrationDefinitionEntity>> {
    const qb = this.repo().createQueryBuilder('d').where('d.organization_id = :organizationId', { organizationId });
    if (filter.status) qb.andWhere('d.status = :status', { status: filter.status });
    if (filter.slug) qb.andWhere('d.slug = :slug', { slug: filter.slug });
    if (filter.search) qb.andWhere('(d.slug ILIKE :q OR d.name ILIKE :q)', { q: `%${filter.search.replace(/[%_\\]/g, '\\$&')}%` });
    if (filter.latestOnly) {
      qb.andWhere(
        `d.version = (SELECT max(d2.version) FROM orchestration_definitions d2
           WHERE d2.organization_id = d.organization_id AND d2.slug = d.slug
           ${filter.status ? 'AND d2.status = :status' : ''})`,
      );
    }
    const [items, total] = await qb.orderBy('d.slug', 'ASC').addOrderBy('d.version', 'DESC').skip(page.offset).take(page.limit).getManyAndCount();
    return { items, total, limit: page.limit, offset: page.offset };
  }

  /**
   * Stores the next version of `spec.slug` (1 when new). The unique (org, slug, version) constraint makes two
   * concurrent saves of the same version fail rather than overwrite: one gets DefinitionVersionTaken.
   */
  async insertVersion(organizationId: string, version: number, data: NewDefinitionVersion, manager?: EntityManager): Promise<OrchestrationDefinitionEntity> {
    const repo = this.repo(manager);
    try {
      const saved = await repo.save(
        repo.create({
          organizationId,
          slug: data.spec.slug,
          version,
          name: data.spec.name,
          description: data.spec.description ?? null,
          spec: data.spec,
          status: data.status,
          createdBy: data.createdBy,
        }),
      );
      this.changes.changed(organizationId, data.spec.slug);
      return saved;
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new DefinitionVersionTaken(`${data.spec.slug} v${version}`);
      throw error;
    }
  }

  /** Sets the status of every version of `slug` (or of one version); returns how many rows changed. */
  async setStatus(organizationId: string, slug: string, status: DefinitionStatus, version?: number): Promise<number> {
    const result = await this.repo().update({ organizationId, slug, ...(version ? { version } : {}) }, { status });
    this.changes.changed(organizationId, slug);
    return result.affected ?? 0;
  }

  /**
   * Archives every version of `slug` (or one version) that is not archived yet; returns how many changed.
   * Archiving only changes the status: versions stay readable by number and runs pinned to them keep going.
   */
  async archive(organizationId: string, slug: string, version?: number): Promise<number> {
    const result = await this.repo().update({ organizationId, slug, status: Not('archived' as const), ...(version ? { version } : {}) }, { status: 'archived' });
    this.changes.changed(organizationId, slug);
    return result.affected ?? 0;
  }

  /** Slugs among `slugs` that have at least one active version. */
  /** The specs of the latest active version of each slug (the version a sub-orchestration step starts). */
  async latestActiveSpecs(organizationId: string, slugs: string[]): Promise<Map<string, unknown>> {
    if (slugs.length === 0) return new Map();
    const rows: { slug: string; spec: unknown }[] = await this.definitions.manager.query(
      `SELECT DISTINCT ON (slug) slug, spec FROM orchestration_definitions
        WHERE organization_id = $1 AND status = 'active' AND slug = ANY($2) ORDER BY slug, version DESC`,
      [organizationId, slugs],
    );
    return new Map(rows.map((r) => [r.slug, r.spec]));
  }

  async activeSlugs(organizationId: string, slugs: string[]): Promise<Set<string>> {
    if (slugs.length === 0) return new Set();
    const rows: { slug: string }[] = await this.definitions.manager.query(
      `SELECT DISTINCT slug FROM orchestration_definitions WHERE organization_id = $1 AND status = 'active' AND slug = ANY($2)`,
      [organizationId, slugs],
    );
    return new Set(rows.map((r) => r.slug));
  }
}
