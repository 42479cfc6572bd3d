// Status writes, below creates in priority. A reconcile hands its CPA's new
// status to the lane and moves on; the lane writes the latest status of each
// CPA, a couple at a time, and holds them while other CPAs wait to be
// reconciled (a burst), for at most a few seconds, so during a burst the
// apiserver's capacity goes to the objects users wait for.

export interface StatusLaneOptions {
  write: (key: string, status: object) => Promise<void>;
  /** True while more important work waits (the work queue has keys). */
  hold: () => boolean;
  /** A write failed: reconcile the key again, which recomputes its status. */
  retry: (key: string, err: unknown) => void;
  maxInFlight?: number;
  /** A status is held at most this long, however busy it gets. */
  maxHoldMs?: number;
  recheckMs?: number;
}

export class StatusLane {
  readonly #opts: Required<StatusLaneOptions>;
  /** The latest status of each CPA not yet written, and when it was first submitted. */
  readonly #pending = new Map<string, { status: object; since: number }>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: StatusLaneOptions) {
    this.#opts = { maxInFlight: 2, maxHoldMs: 5000, recheckMs: 100, ...opts };
  }

  submit(key: string, status: object): void {
    if (this.#stopped) return;
    const since = this.#pending.get(key)?.since ?? Date.now();
    this.#pending.set(key, { status, since });
    this.#pump();
  }

  get pending(): number {
    return this.#pending.size;
  }

  #pump(): void {
    while (this.#inFlight.size < this.#opts.maxInFlight && this.#pending.size > 0 && !this.#stopped) {
      const next = this.#next();
      if (!next) {
        this.#recheck();
        return;
      }
      const [key, { status }] = next;
      this.#pending.delete(key);
      const write = this.#opts
        .write(key, status)
        .catch((err: unknown) => {
          if (!this.#stopped) this.#opts.retry(key, err);
        })
        .finally(() => {
          this.#inFlight.delete(write);
          this.#pump();
        });
      this.#inFlight.add(write);
    }
  }

  /** The oldest pending status that may go now: any while idle, else only one held too long. */
  #next(): [string, { status: object; since: number }] | undefined {
    const held = this.#opts.hold();
    const now = Date.now();
    for (const entry of this.#pending) {
      if (!held || now - entry[1].since >= this.#opts.maxHoldMs) return entry;
    }
    return undefined;
  }

  #recheck(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, this.#opts.recheckMs);
  }

  /** Writes nothing more; resolves once the writes in flight have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#pending.clear();
    await Promise.allSettled([...this.#inFlight]);
  }
}
