/**
 * Runs `work` now, or, while a run of it is in flight, once more right after it (however many calls came in
 * between): a burst of triggers costs at most two requests, and the last one starts after the last trigger, so
 * its answer is never older than the event that asked for it.
 */
export function coalesce(work: () => Promise<unknown>): () => void {
  let busy = false;
  let again = false;
  const trigger = (): void => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    work()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
        if (!again) return;
        again = false;
        trigger();
      });
  };
  return trigger;
}
