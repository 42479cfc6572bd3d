// A shared-informer-like cache of one kind: list, then watch from the list's
// resourceVersion with bookmarks; relist on 410 Gone; restart with backoff on
// any error; and a watchdog that abandons a stream that has gone silent.
// Handlers get the object that changed; controllers map it to a work-queue key
// and never branch on the event type.
import type { Logger } from "pino";
import { sleep, systemClock, type Clock } from "../lib/clock.ts";
import { KubeApiError, type KubeClient } from "./http.ts";
import { keyOf, type KubeObject } from "./objects.ts";

export interface InformerOptions {
  http: KubeClient;
  /** Collection path, e.g. /api/v1/pods or /api/v1/namespaces/ns/pods. */
  path: string;
  labelSelector?: string;
  log: Logger;
  /** Server-side watch timeout; the stream is renewed after it. */
  watchTimeoutSeconds?: number;
  /** How long a watch may wait for its response headers. */
  headerTimeoutMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  /**
   * Keeps only what the reconciler reads of each object, to save memory: the
   * cache holds its result. Default: the object as the API sent it.
   */
  transform?: (obj: KubeObject) => KubeObject;
}

interface ListResponse<T> {
  metadata: { resourceVersion: string };
  items: T[];
}

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; message?: string };
}

export type Handler<T> = (obj: T) => void;

/**
 * A watch that ends this soon with no event at all is a failure, not a renewal:
 * a server (or a proxy) that closes every watch at once would otherwise be
 * called again in a hot loop.
 */
export const SHORT_WATCH_MS = 1000;

export class ShortWatchError extends Error {
  override readonly name = "ShortWatchError";
}

export class Informer<T extends KubeObject> {
  readonly #opts: InformerOptions;
  readonly #clock: Clock;
  readonly #store = new Map<string, T>();
  readonly #handlers: Handler<T>[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #resourceVersion = "";
  #restarts = 0;
  /** Since when (monotonic ms) the cache has not been kept current; undefined while it is. */
  #staleSince: number | undefined;

  constructor(opts: InformerOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#staleSince = this.#clock.monotonic();
  }

  /** Registers a handler called with every object added, changed or deleted. */
  onChange(handler: Handler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  list(): T[] {
    return [...this.#store.values()];
  }

  get restarts(): number {
    return this.#restarts;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /**
   * How long (ms) the cache has gone without a working list or watch: 0 while a
   * watch is open. Health checks fail an operator whose caches stay stale.
   */
  staleFor(): number {
    return this.#staleSince === undefined ? 0 : this.#clock.monotonic() - this.#staleSince;
  }

  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** Runs until the signal aborts. Never throws: failures are logged and retried. */
  async run(signal: AbortSignal): Promise<void> {
    const { log } = this.#opts;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!this.#resourceVersion) await this.#list(signal);
        await this.#watch(signal);
        failures = 0;
      } catch (err) {
        if (isAborted(signal)) break;
        if (err instanceof KubeApiError && err.status === 410) {
          // Too old a resourceVersion: list again at once, as client-go does.
          log.debug(
            { path: this.#opts.path, resourceVersion: this.#resourceVersion },
            "Watch expired; listing again",
          );
          this.#resourceVersion = "";
          continue;
        }
        this.#staleSince ??= this.#clock.monotonic();
        failures++;
        this.#restarts++;
        const delay = Math.min(this.#opts.maxBackoffMs ?? 30_000, 250 * 2 ** Math.min(failures, 10));
        log.warn({ path: this.#opts.path, err: String(err), retryInMs: delay }, "Watch failed; restarting");
        await sleep(this.#clock, delay, signal);
      }
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const res = await this.#opts.http.request<ListResponse<T>>("GET", this.#opts.path, {
      query: { labelSelector: this.#opts.labelSelector },
      signal,
    });
    const seen = new Set<string>();
    for (const raw of res.items) {
      const item = this.#keep(raw);
      const key = keyOf(item);
      seen.add(key);
      this.#store.set(key, item);
      this.#emit(item);
    }
    // What the list no longer has was deleted while we were not watching.
    for (const [key, old] of this.#store) {
      if (!seen.has(key)) {
        this.#store.delete(key);
        this.#emit(old);
      }
    }
    this.#resourceVersion = res.metadata.resourceVersion;
    this.#opts.log.debug(
      { path: this.#opts.path, items: res.items.length, resourceVersion: this.#resourceVersion },
      "Listed",
    );
    this.#staleSince = undefined;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters) w();
      this.#syncWaiters = [];
    }
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const timeout = this.#opts.watchTimeoutSeconds ?? 300;
    // Abort our own request when the stream ends, so the socket is never leaked.
    const stop = new AbortController();
    const onAbort = (): void => {
      stop.abort();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const started = this.#clock.monotonic();
    let events = 0;
    try {
      await this.#opts.http.stream(this.#opts.path, {
        query: {
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: timeout,
          labelSelector: this.#opts.labelSelector,
        },
        onOpen: () => {
          this.#staleSince = undefined;
          this.#opts.log.debug({ path: this.#opts.path, resourceVersion: this.#resourceVersion }, "Watching");
        },
        onLine: (line) => {
          events++;
          this.#apply(JSON.parse(line) as WatchEvent<T>);
        },
        signal: stop.signal,
        // The server ends the stream after `timeout`; silence well beyond that means it hung.
        idleMs: (timeout + Math.max(5, timeout / 10)) * 1000,
        ...(this.#opts.headerTimeoutMs === undefined ? {} : { headerTimeoutMs: this.#opts.headerTimeoutMs }),
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
      stop.abort();
    }
    if (events === 0 && this.#clock.monotonic() - started < SHORT_WATCH_MS && !signal.aborted) {
      throw new ShortWatchError(`watch ${this.#opts.path} ended at once with no event`);
    }
  }

  #apply(event: WatchEvent<T>): void {
    const type = event.type;
    if (type === "ERROR") {
      const status = event.object;
      throw new KubeApiError("WATCH", this.#opts.path, status.code ?? 500, {
        message: status.message ?? "watch error",
      });
    }
    // Read before the transform, which may drop it.
    const rv = event.object.metadata?.resourceVersion;
    const obj = this.#keep(event.object);
    switch (type) {
      case "BOOKMARK":
        break;
      case "ADDED":
      case "MODIFIED":
        this.#store.set(keyOf(obj), obj);
        this.#emit(obj);
        break;
      case "DELETED":
        this.#store.delete(keyOf(obj));
        this.#emit(obj);
        break;
    }
    if (rv) this.#resourceVersion = rv;
  }

  #keep(obj: T): T {
    return this.#opts.transform ? (this.#opts.transform(obj) as T) : obj;
  }

  #emit(obj: T): void {
    for (const h of this.#handlers) {
      try {
        h(obj);
      } catch (err) {
        this.#opts.log.error({ err: String(err) }, "Informer handler failed");
      }
    }
  }
}

/** Read through a call: TypeScript would otherwise narrow `signal.aborted` across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
