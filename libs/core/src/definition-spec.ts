/** The shape of an orchestration definition (DESIGN.md section 4) once it has passed validation. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface RetryPolicy {
  maxAttempts?: number;
  backoff?: 'exponential' | 'fixed';
  initialDelayMs?: number;
  maxDelayMs?: number;
  jitter?: boolean;
  nonRetryable?: string[];
}

export interface ApprovalSpec {
  prompt: string;
  timeoutMs?: number;
  onTimeout?: 'abort' | 'continue' | 'skip';
  payload?: JsonValue;
  decisions?: string[];
  roles?: string[];
  assignees?: string[];
  quorum?: number;
  escalateAfterMs?: number;
  modificationsSchema?: JsonObject;
}

/** One speaker of a group step: an agent, or a capability (routed to an agent when the step starts). */
export interface GroupParticipantSpec {
  agent?: string;
  capability?: string;
  /** How the transcript names it (default: the agent slug, or the capability); unique within the group. */
  name?: string;
  /** strategy `priority`: higher speaks first (default 0; ties in list order). */
  priority?: number;
}

/** When a group ends before maxTurns: a template over the transcript that renders truthy, or a speaker saying a word. */
export interface GroupTermination {
  /** Evaluated after each turn with `group.transcript`, `group.last` and `group.turn`, e.g. "{{ group.last.output.done }}". */
  condition?: string;
  /** A turn whose text contains this word (as a whole word, case-sensitive) ends the group. */
  stopWord?: string;
}

export type GroupStrategy = 'round-robin' | 'priority' | 'llm';

export interface StepSpec {
  key: string;
  type?: 'agent' | 'orchestration' | 'approval' | 'group';
  agent?: string;
  orchestration?: string;
  /** The child definition's version (absent: its latest active version when the step starts). */
  version?: number;
  /** One child run per item of this template's array; the item and its index reach the child input as `item`, `index`. */
  forEach?: string;
  /** Most children of a forEach in flight at once (default: all). */
  concurrency?: number;
  /** false: a failed child does not fail the step; its output lists every item's status, output or error. */
  failFast?: boolean;
  dependsOn?: string[];
  input?: JsonValue;
  approval?: ApprovalSpec;
  retry?: RetryPolicy;
  timeoutMs?: number;
  reversible?: boolean;
  rollback?: JsonObject;
  fallbackAgents?: string[];
  /** Run on the healthiest, least-loaded active agent with this capability (instead of `agent`). */
  capability?: string;
  /** While the agent's breaker is open, run on another healthy agent sharing one of its capabilities. */
  fallback?: 'capability';
  /** type group: who speaks (2-10 agents or capabilities; a string is an agent slug). */
  participants?: (string | GroupParticipantSpec)[];
  /** type group: who speaks next (default round-robin). */
  strategy?: GroupStrategy;
  /** type group, strategy llm: the agent that names the next speaker (round-robin when it fails or is slow). */
  selector?: { agent: string; timeoutMs?: number };
  /** type group: most turns (default 10). */
  maxTurns?: number;
  /** type group: turns in a row one speaker may take before sitting out one turn (default 3). */
  maxConsecutiveTurns?: number;
  termination?: GroupTermination;
  /**
   * Reuse a completed output: when the agent (per organization) produced one for the same rendered `key` less than
   * `ttlMs` ago, the step completes with it (`cached: true`) without calling the agent.
   */
  cache?: StepCacheSpec;
}

/** A step's output cache: `key` is a template over what the step's input may read. */
export interface StepCacheSpec {
  key: string;
  ttlMs: number;
}

/** What a run (or an agent, within one run) may spend on LLM calls; `onExceeded`: fail the step (default) or ask. */
export interface Budget {
  maxTokens?: number;
  maxCostUsd?: number;
  onExceeded?: 'fail' | 'approval';
}

export interface DefinitionSpec {
  slug: string;
  name: string;
  description?: string;
  input?: JsonObject;
  output?: JsonValue;
  defaults?: { retry?: RetryPolicy; timeoutMs?: number };
  concurrency?: number;
  compensate?: boolean;
  /** The default budget of its runs (a start request may set its own). */
  budget?: Budget;
  steps: StepSpec[];
}
