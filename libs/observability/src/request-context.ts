import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Per-request (or per-step) values available to logs and audit rows without threading them through calls.
 * Every log line written inside a context carries its fields (see logging/pino-params.ts).
 */
export interface RequestContextValues {
  requestId: string;
  organizationId?: string;
  runId?: string;
  stepKey?: string;
  attempt?: number;
}

/** The fields a log line takes from the context, in output names. */
export type LogContextFields = Partial<RequestContextValues>;

const storage = new AsyncLocalStorage<RequestContextValues>();

export const RequestContext = {
  run<T>(values: RequestContextValues, fn: () => T): T {
    return storage.run(values, fn);
  },
  current(): RequestContextValues | undefined {
    return storage.getStore();
  },
  requestId(): string | undefined {
    return storage.getStore()?.requestId;
  },
  /**
   * Adds fields to the current context once they are known (the organization after authentication, the run a
   * request starts). Outside a context it does nothing: there is no request to describe.
   */
  annotate(fields: Omit<LogContextFields, 'requestId'>): void {
    const store = storage.getStore();
    if (store) Object.assign(store, fields);
  },
  /** Runs `fn` with the current context extended by `fields` (e.g. the engine around one step attempt). */
  with<T>(fields: LogContextFields, fn: () => T): T {
    const parent = storage.getStore();
    return storage.run({ requestId: parent?.requestId ?? '', ...parent, ...fields } as RequestContextValues, fn);
  },
  /** The context's fields for a log line, without empty ones. */
  logFields(): LogContextFields {
    const store = storage.getStore();
    if (!store) return {};
    const out: LogContextFields = {};
    if (store.requestId) out.requestId = store.requestId;
    if (store.organizationId) out.organizationId = store.organizationId;
    if (store.runId) out.runId = store.runId;
    if (store.stepKey) out.stepKey = store.stepKey;
    if (store.attempt !== undefined) out.attempt = store.attempt;
    return out;
  },
};
