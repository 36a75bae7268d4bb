/**
 * Errors an agent reports. `retryable` drives the engine's retry policy; `code` is matched against a step's
 * `retry.nonRetryable` list. Anything else an agent throws is treated as retryable with code AGENT_ERROR.
 */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = true,
    /** The least delay before a retry, when the agent's peer asked for one (HTTP Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export const TIMEOUT_ERROR = 'TIMEOUT';
export const ABORTED_ERROR = 'ABORTED';
