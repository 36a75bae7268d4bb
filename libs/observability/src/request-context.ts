import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request values (request id) available to logs and audit rows without threading them through calls. */
export interface RequestContextValues {
  requestId: string;
}

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
};
