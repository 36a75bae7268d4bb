/**
 * In-process notice that a definition's rows changed, given by DefinitionsRepository right after its writes: this
 * process's caches of definitions (the engine's ActiveDefinitions) drop the slug at once, so a request that follows a
 * save in the same process never sees the old version. Other processes learn the same from the NOTIFY a trigger on
 * orchestration_definitions sends at commit (channel baton_definitions, migration StepCache).
 */
import { Injectable } from '@nestjs/common';

export type DefinitionChangeListener = (organizationId: string, slug: string) => void;

@Injectable()
export class DefinitionChanges {
  private readonly listeners = new Set<DefinitionChangeListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: DefinitionChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(organizationId: string, slug: string): void {
    for (const listener of this.listeners) listener(organizationId, slug);
  }
}
