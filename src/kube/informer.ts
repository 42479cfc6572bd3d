// A shared-informer-like cache of one kind: list, then watch from the list's
// resourceVersion with bookmarks; relist on 410 Gone; restart with backoff on
// any error; and a watchdog that abandons a stream that has gone silent.
// Handlers get the object that changed; controllers map it to a work-queue key
// and never branch on the event type.
import type { Logger } from "pino";
import { KubeApiError, type KubeHttp } from "./http.ts";
import { keyOf, type KubeObject } from "./objects.ts";

export interface InformerOptions {
  http: KubeHttp;
  /** Collection path, e.g. /api/v1/pods or /api/v1/namespaces/ns/pods. */
  path: string;
  labelSelector?: string;
  log: Logger;
  /** Server-side watch timeout; the stream is renewed after it. */
  watchTimeoutSeconds?: number;
  maxBackoffMs?: number;
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

export class Informer<T extends KubeObject> {
  readonly #opts: InformerOptions;
  readonly #store = new Map<string, T>();
  readonly #handlers: Handler<T>[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #resourceVersion = "";
  #restarts = 0;

  constructor(opts: InformerOptions) {
    this.#opts = opts;
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
          this.#resourceVersion = "";
          continue;
        }
        failures++;
        this.#restarts++;
        const delay = Math.min(this.#opts.maxBackoffMs ?? 30_000, 250 * 2 ** Math.min(failures, 10));
        log.warn({ path: this.#opts.path, err: String(err), retryInMs: delay }, "Watch failed; restarting");
        await sleep(delay, signal);
      }
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const res = await this.#opts.http.request<ListResponse<T>>("GET", this.#opts.path, {
      query: { labelSelector: this.#opts.labelSelector },
      signal,
    });
    const seen = new Set<string>();
    for (const item of res.items) {
      const key = keyOf(item);
      seen.add(key);
      this.#store.set(key, item);
      this.#emit(item);
    }
    for (const [key, old] of this.#store) {
      if (!seen.has(key)) {
        this.#store.delete(key);
        this.#emit(old);
      }
    }
    this.#resourceVersion = res.metadata.resourceVersion;
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
    try {
      await this.#opts.http.stream(
        this.#opts.path,
        {
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: timeout,
          labelSelector: this.#opts.labelSelector,
        },
        (line) => {
          this.#apply(JSON.parse(line) as WatchEvent<T>);
        },
        stop.signal,
        // The server ends the stream after `timeout`; silence well beyond that means it hung.
        (timeout + 30) * 1000,
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
      stop.abort();
    }
  }

  #apply(event: WatchEvent<T>): void {
    const obj = event.object;
    const rv = obj.metadata?.resourceVersion;
    switch (event.type) {
      case "ERROR":
        throw new KubeApiError("WATCH", this.#opts.path, obj.code ?? 500, {
          message: obj.message ?? "watch error",
        });
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
