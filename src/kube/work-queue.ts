// A keyed work queue with the guarantees of client-go's rate-limited workqueue:
// a key is queued at most once however many events name it, and never handed to
// two workers at the same time. Keys are `namespace/name`; the handler reads the
// current state, so collapsing many adds into one pass loses nothing.
import { systemClock, type Clock } from "../lib/clock.ts";

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  clock?: Clock;
}

interface Pending {
  at: number;
  timer: { cancel(): void };
}

export class WorkQueue {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #clock: Clock;
  readonly #queue: string[] = [];
  // Keys that need a pass: those in #queue, plus those that were added again
  // while being processed and go back in on done().
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #pending = new Map<string, Pending>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.#clock = options.clock ?? systemClock;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#processing.has(key)) this.#enqueue(key);
  }

  /** Adds key after delayMs. A pending add that would fire sooner wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + delayMs;
    const pending = this.#pending.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = this.#clock.setTimeout(() => {
      this.#pending.delete(key);
      this.add(key);
    }, delayMs);
    this.#pending.set(key, { at, timer });
  }

  /**
   * Adds key after a backoff that doubles with each failure since the last
   * forget(), up to the queue's maximum or `capMs` if lower.
   */
  addRateLimited(key: string, capMs = this.#maxDelayMs): void {
    const failures = this.numRequeues(key);
    this.#failures.set(key, failures + 1);
    this.addAfter(key, Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs, capMs));
  }

  /**
   * Adds key after a backoff of its own, slower than addRateLimited's: baseMs
   * doubling with each requeue since the last forget(), up to capMs (which may
   * exceed the queue's maximum). For keys whose work cannot succeed until
   * something changes that usually also queues them at once.
   */
  addSlowly(key: string, baseMs: number, capMs: number): void {
    const failures = this.numRequeues(key);
    this.#failures.set(key, failures + 1);
    this.addAfter(key, Math.min(baseMs * 2 ** Math.min(failures, 20), capMs));
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#start(key));
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) this.#enqueue(key);
  }

  len(): number {
    return this.#queue.length;
  }

  /**
   * Stops accepting keys and handing them out, queued ones included: a
   * controller that is stopping (or no longer leads) must not start work that
   * another replica may be doing. Keys being processed finish with their
   * workers; the owner aborts those.
   */
  shutDown(): void {
    this.#shuttingDown = true;
    this.#queue.length = 0;
    this.#dirty.clear();
    for (const { timer } of this.#pending.values()) timer.cancel();
    this.#pending.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }

  #enqueue(key: string): void {
    const waiter = this.#waiters.shift();
    // A waiting worker takes the key now, so it counts as processing before any
    // other add() can run and queue it a second time.
    if (waiter) waiter(this.#start(key));
    else this.#queue.push(key);
  }

  #start(key: string): string {
    this.#dirty.delete(key);
    this.#processing.add(key);
    return key;
  }
}

/**
 * What a handler returns to have its key looked at again later. Without
 * backOff it is not a failure: the key's backoff resets and it comes back
 * after requeueAfterMs. With backOff the pass found a problem it may outlive
 * (a 403 while the apiserver's authorizer warms up, a RoleBinding being
 * granted): the key comes back after its backoff, as after a failure, but
 * never later than requeueAfterMs.
 */
export interface Requeue {
  requeueAfterMs: number;
  backOff?: boolean;
  /**
   * The work cannot succeed as things are (a spec that cannot work): the key
   * comes back on a slow backoff from SLOW_BASE_MS, doubling up to
   * requeueAfterMs, and sooner only when an event queues it.
   */
  terminal?: boolean;
}

/** Where a terminal key's backoff starts. */
export const SLOW_BASE_MS = 30_000;

// void in the union lets a plain `async (key) => { ... }` be a handler.
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type
export type Handler = (key: string) => Promise<void | Requeue>;

/**
 * Runs count workers on the queue until it is shut down; resolves once every
 * worker has returned. A failed key is retried with backoff; a successful one
 * has its backoff reset.
 */
export async function runWorkers(
  queue: WorkQueue,
  count: number,
  handler: Handler,
  onError: (key: string, err: unknown) => void,
): Promise<void> {
  const worker = async (): Promise<void> => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        const result = await handler(key);
        if (result?.terminal) queue.addSlowly(key, SLOW_BASE_MS, result.requeueAfterMs);
        else if (result?.backOff) queue.addRateLimited(key, result.requeueAfterMs);
        else {
          queue.forget(key);
          if (result) queue.addAfter(key, result.requeueAfterMs);
        }
      } catch (err) {
        onError(key, err);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: count }, worker));
}
