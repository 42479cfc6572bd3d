// A shared-informer-like cache of one kind: list in pages, then watch from the
// list's resourceVersion with bookmarks; relist on 410 Gone; restart with
// backoff on any error; and a watchdog that abandons a stream that has gone
// silent. Indexes find objects by a value (an owner's uid) without a scan.
// Handlers get the object that changed; controllers map it to a work-queue key
// and never branch on the event type.
//
// A relist updates the cache in place, a page at a time: the cache never holds
// two copies, and no response holds more than a page.
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
  /** Items per LIST page (client-go's reflector asks for 500); 0 asks for all in one response. */
  pageSize?: number;
  /**
   * Runs each list. Informers that share one gate (listGate()) list one at a
   * time, so their peaks do not add up at start or after an outage.
   */
  listGate?: ListGate;
  /**
   * Whether a change is worth telling the handlers (the cache takes it either
   * way). Additions and deletions always are. Default: every change.
   */
  relevant?: (old: KubeObject, next: KubeObject) => boolean;
  /** Indexes by name: each gives the values an object is found under with byIndex(). */
  indexers?: Readonly<Record<string, Indexer>>;
}

export type Indexer = (obj: KubeObject) => readonly string[];
export type ListGate = <R>(list: () => Promise<R>) => Promise<R>;

/** A gate that runs one list at a time, in the order they asked. */
export function listGate(): ListGate {
  let tail: Promise<unknown> = Promise.resolve();
  return <R>(list: () => Promise<R>): Promise<R> => {
    const turn = tail.then(list, list);
    tail = turn.catch(() => undefined);
    return turn;
  };
}

export const DEFAULT_PAGE_SIZE = 500;

interface ListResponse<T> {
  metadata: { resourceVersion: string; continue?: string };
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
  /** index name → value → keys of the objects found under it */
  readonly #indices = new Map<string, Map<string, Set<string>>>();
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

  /** The cached objects an indexer maps to value. */
  byIndex(index: string, value: string): T[] {
    if (!this.#opts.indexers?.[index]) throw new Error(`no index ${index} on ${this.#opts.path}`);
    const keys = this.#indices.get(index)?.get(value);
    if (!keys) return [];
    return [...keys].flatMap((k) => {
      const obj = this.#store.get(k);
      return obj ? [obj] : [];
    });
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
    const gate = this.#opts.listGate ?? ((list) => list());
    const seen = new Set<string>();
    const resourceVersion = await gate(async () => {
      try {
        return await this.#pages(seen, this.#opts.pageSize ?? DEFAULT_PAGE_SIZE, signal);
      } catch (err) {
        if (!(err instanceof ContinueExpired)) throw err;
        // The snapshot the pages came from was compacted away mid-list: list
        // again in one response, at the latest state, as client-go's pager does.
        this.#opts.log.debug({ path: this.#opts.path }, "List continue token expired; listing in full");
        seen.clear();
        return await this.#pages(seen, 0, signal);
      }
    });
    // What the list no longer has was deleted while we were not watching.
    for (const [key, old] of this.#store) {
      if (!seen.has(key)) {
        this.#remove(key);
        this.#emit(old);
      }
    }
    this.#resourceVersion = resourceVersion;
    this.#opts.log.debug(
      { path: this.#opts.path, items: seen.size, resourceVersion: this.#resourceVersion },
      "Listed",
    );
    this.#staleSince = undefined;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters) w();
      this.#syncWaiters = [];
    }
  }

  /** Lists page by page into the cache, noting each key in seen; resolves with the list's resourceVersion. */
  async #pages(seen: Set<string>, limit: number, signal: AbortSignal): Promise<string> {
    let token: string | undefined;
    for (;;) {
      let res: ListResponse<T>;
      try {
        res = await this.#opts.http.request<ListResponse<T>>("GET", this.#opts.path, {
          query: {
            labelSelector: this.#opts.labelSelector,
            ...(limit > 0 ? { limit } : {}),
            ...(token === undefined ? {} : { continue: token }),
          },
          signal,
        });
      } catch (err) {
        if (token !== undefined && err instanceof KubeApiError && err.status === 410)
          throw new ContinueExpired(err.message);
        throw err;
      }
      for (const raw of res.items) {
        const item = this.#keep(raw);
        const key = keyOf(item);
        seen.add(key);
        const old = this.#store.get(key);
        this.#put(key, item);
        this.#emit(item, old);
      }
      // An empty token, as some servers send, is the last page too.
      token = res.metadata.continue === "" ? undefined : res.metadata.continue;
      if (token === undefined) return res.metadata.resourceVersion;
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
      case "MODIFIED": {
        const key = keyOf(obj);
        const old = this.#store.get(key);
        this.#put(key, obj);
        this.#emit(obj, old);
        break;
      }
      case "DELETED":
        this.#remove(keyOf(obj));
        this.#emit(obj);
        break;
    }
    if (rv) this.#resourceVersion = rv;
  }

  #keep(obj: T): T {
    return this.#opts.transform ? (this.#opts.transform(obj) as T) : obj;
  }

  #put(key: string, obj: T): void {
    this.#remove(key);
    this.#store.set(key, obj);
    for (const [index, values] of Object.entries(this.#opts.indexers ?? {})) {
      let byValue = this.#indices.get(index);
      if (!byValue) this.#indices.set(index, (byValue = new Map<string, Set<string>>()));
      for (const value of values(obj)) {
        let keys = byValue.get(value);
        if (!keys) byValue.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  #remove(key: string): void {
    const old = this.#store.get(key);
    if (!old) return;
    this.#store.delete(key);
    for (const [index, values] of Object.entries(this.#opts.indexers ?? {})) {
      const byValue = this.#indices.get(index);
      for (const value of values(old)) {
        const keys = byValue?.get(value);
        keys?.delete(key);
        if (keys?.size === 0) byValue?.delete(value);
      }
    }
  }

  /** Tells the handlers, unless this is a change the relevant option calls irrelevant. */
  #emit(obj: T, old?: T): void {
    if (old && this.#opts.relevant && !this.#opts.relevant(old, obj)) return;
    for (const h of this.#handlers) {
      try {
        h(obj);
      } catch (err) {
        this.#opts.log.error({ err: String(err) }, "Informer handler failed");
      }
    }
  }
}

/** A continued LIST answered 410: its snapshot is gone. */
class ContinueExpired extends Error {}

/** Read through a call: TypeScript would otherwise narrow `signal.aborted` across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
