/**
 * Which stored definition a run starts: a slug's latest active version (or a given version), cached in memory per
 * organization and slug, so starting a run reads no definition row. Versions never change once saved, but which one
 * is the latest active does: every change to a slug's rows drops that slug's entries, in this process at once
 * (DefinitionChanges, given by the repository after its write) and in every other process by the NOTIFY the trigger
 * on orchestration_definitions sends at commit (baton_definitions, payload `<organization id>:<slug>`). A LISTEN
 * reconnection (notifications may have been lost meanwhile) drops everything. A read that raced a drop is not kept.
 */
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DEFINITIONS_CHANNEL, PgListener } from '#events';
import { DefinitionChanges, DefinitionsRepository, type OrchestrationDefinitionEntity } from '#persistence';

/** Slugs kept at most (the oldest cached goes first). */
const MAX_SLUGS = 2000;
const LATEST = 'latest';

@Injectable()
export class ActiveDefinitions implements OnModuleInit, OnModuleDestroy {
  /** `<organization id>:<slug>` -> `latest` or a version number -> the row. */
  private readonly slugs = new Map<string, Map<string, OrchestrationDefinitionEntity>>();
  /** Bumped by every drop: a read that started before one may hold the old answer and is not cached. */
  private generation = 0;
  private readonly off: (() => void)[] = [];
  /** Answered from memory vs. read from the database (for tests and benches). */
  readonly stats = { hits: 0, reads: 0 };

  constructor(
    private readonly definitions: DefinitionsRepository,
    private readonly changes: DefinitionChanges,
    private readonly listener: PgListener,
  ) {}

  async onModuleInit(): Promise<void> {
    this.off.push(this.changes.subscribe((organizationId, slug) => this.drop(`${organizationId}:${slug}`)));
    this.off.push(await this.listener.listen(DEFINITIONS_CHANNEL, (payload) => this.drop(payload || null)));
  }

  onModuleDestroy(): void {
    for (const off of this.off.splice(0)) off();
  }

  /** The latest active version of `slug`, or version `version` whatever its status; null when there is none. */
  async resolve(organizationId: string, slug: string, version?: number): Promise<OrchestrationDefinitionEntity | null> {
    const id = `${organizationId}:${slug}`;
    const which = version === undefined ? LATEST : String(version);
    const hit = this.slugs.get(id)?.get(which);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.reads++;
    const generation = this.generation;
    const row =
      version === undefined
        ? await this.definitions.findLatestActive(organizationId, slug)
        : await this.definitions.findVersion(organizationId, slug, version);
    if (row && generation === this.generation) this.keep(id, which, row);
    return row;
  }

  private keep(id: string, which: string, row: OrchestrationDefinitionEntity): void {
    let versions = this.slugs.get(id);
    if (!versions) {
      if (this.slugs.size >= MAX_SLUGS) this.slugs.delete(this.slugs.keys().next().value as string);
      this.slugs.set(id, (versions = new Map()));
    }
    versions.set(which, row);
  }

  /** Forgets one slug (`<organization id>:<slug>`), or everything (null). */
  private drop(id: string | null): void {
    this.generation++;
    if (id === null) this.slugs.clear();
    else this.slugs.delete(id);
  }
}
