/**
 * Named fault points: places in the engine where a test can make something go wrong on purpose (throw at COMMIT,
 * drop the connection after a claim's first read, fail a LISTEN reconnect), to prove that the code around them
 * recovers. A tiny process-wide registry: tests arm a point with a fault, production never does. Unarmed, a point
 * costs one Map size check: call sites write `const f = faultPoint(name, ctx); if (f) await f;`.
 * See docs/architecture.md ("Fault points") for where each one sits.
 */
export const FAULT_POINTS = [
  /** EngineDatabase.tx, after the transaction's work and before COMMIT is sent. Context: the transaction's connection. */
  'engine.tx.beforeCommit',
  /** StepClaimer.claim, inside the claim transaction after the candidates were read. Context: the connection. */
  'engine.claim.afterCandidates',
  /** PgListener, before the LISTEN connection (re)connects. */
  'events.listener.connect',
] as const;
export type FaultPointName = (typeof FAULT_POINTS)[number];

/** What an armed point does: throw (the usual), or act on the context (kill the connection), possibly async. */
export type Fault = (context: unknown) => void | Promise<void>;

const armed = new Map<FaultPointName, { fault: Fault; remaining: number }>();

/** Hits the point: undefined when unarmed (the normal case), else the fault's outcome, to await. */
export function faultPoint(name: FaultPointName, context?: unknown): Promise<void> | undefined {
  if (armed.size === 0) return undefined;
  const entry = armed.get(name);
  if (!entry) return undefined;
  if (--entry.remaining <= 0) armed.delete(name);
  try {
    return Promise.resolve(entry.fault(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

export const faultPoints = {
  /** Arms `name` for its next `times` hits (default once). */
  arm(name: FaultPointName, fault: Fault, times = 1): void {
    armed.set(name, { fault, remaining: times });
  },
  disarm(name: FaultPointName): void {
    armed.delete(name);
  },
  /** Disarms everything (call in afterEach). */
  reset(): void {
    armed.clear();
  },
  isArmed(name: FaultPointName): boolean {
    return armed.has(name);
  },
};
