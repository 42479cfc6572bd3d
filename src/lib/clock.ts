// Time as a dependency: code that waits or measures takes a Clock, so tests can
// move time by hand instead of sleeping.

export interface Clock {
  /** Wall-clock time, ms since the epoch: for timestamps others read. */
  now(): number;
  /**
   * A monotonic time in ms, for measuring durations: unlike the wall clock it
   * never jumps when the system clock is stepped.
   */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    return {
      cancel: () => {
        clearTimeout(timer);
      },
    };
  },
};

/**
 * Waits ms on the clock. An abort ends the wait early and resolves rather than
 * rejects: callers loop on `signal.aborted`, and a rejection there would only be
 * caught and ignored.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
