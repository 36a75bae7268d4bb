import type { TaskRequestDto, TaskResponseDto } from '#a2a';
import type { AgentType, JsonObject, JsonValue } from '#core';

/**
 * One message of the conversation an agent call belongs to, oldest first: earlier messages of the run's A2A context
 * (docs/conversations.md), then, in a group step, the turns so far (the called participant's own turns as `agent`).
 */
export interface HistoryMessage {
  role: 'user' | 'agent';
  text: string;
  /** Who said it, when several agents speak (a group step's participant). */
  name?: string;
}

/** What an agent is run with besides its task: where it runs, how to stop, how to report progress. */
export interface AgentExecutionContext {
  organizationId: string;
  /** Slug of the agent invoked (built-ins have no row in `agents`). */
  agentSlug: string;
  /** The agent's stored config (`agents.config`), empty for built-ins. */
  config: Record<string, unknown>;
  runId?: string;
  stepKey?: string;
  /** Which attempt this is (1-based). */
  attempt: number;
  /** Fires on cancellation, timeout, lost lease or shutdown: stop and throw. */
  signal: AbortSignal;
  onProgress(progress: JsonValue): void;
  /** The conversation so far, when the call belongs to one (context agents receive it as chat messages). */
  history?: HistoryMessage[];
  /** Who asked, when a person or the system did (REST, CLI, timers); absent for steps run by the engine. */
  actor?: { type: 'user' | 'api_key' | 'system'; id: string | null; userId: string | null; role: string | null; email?: string | null };
}

/** Every agent type implements this: a task in, a task out (A2A). */
export abstract class BaseAgentRunner {
  abstract readonly type: AgentType;
  /** JSON Schema of this type's `agents.config`, checked when an agent is saved (absent: any object). */
  readonly configSchema?: JsonObject;

  abstract execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto>;
}
