// Creates the operator made that its caches have not seen yet.
//
// An object the operator creates reaches its informer through the watch a
// moment after the create returns. A reconcile of the same CPA in between (the
// ServiceAccount's ADDED event queues one while the first pass is still creating
// the Pod) would find the Pod missing from the cache and create it again: one
// wasted write answered 409 AlreadyExists, and a GET to read what exists. The
// ReplicaSet controller solves the same problem with "expectations"; this is
// the same idea for single named objects.
//
// A create is remembered until the informer reports any event for that object
// (ADDED, or even DELETED: either way the cache is current), or until ttlMs
// passes: if the watch is broken, the next reconcile falls back to creating
// and reading, which is correct, only slower.
import type { Clock } from "../lib/clock.ts";

/** How long a create is trusted without the watch confirming it. */
export const EXPECTATION_TTL_MS = 30_000;

export class Expectations {
  readonly #created = new Map<string, number>();
  readonly #clock: Pick<Clock, "monotonic">;
  readonly #ttlMs: number;

  constructor(clock: Pick<Clock, "monotonic">, ttlMs = EXPECTATION_TTL_MS) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  /** The key of an object for these expectations: resource, namespace, name. */
  static key(resource: string, namespace: string | undefined, name: string | undefined): string {
    return `${resource}/${namespace ?? ""}/${name ?? ""}`;
  }

  /** A create of key just succeeded. */
  created(key: string): void {
    this.#created.set(key, this.#clock.monotonic());
  }

  /** The informer reported an event for key: its cache holds the truth now. */
  observed(key: string): void {
    this.#created.delete(key);
  }

  /** Whether key was created moments ago and the cache has yet to show it. */
  pending(key: string): boolean {
    const at = this.#created.get(key);
    if (at === undefined) return false;
    if (this.#clock.monotonic() - at < this.#ttlMs) return true;
    this.#created.delete(key);
    return false;
  }

  /** How many creates wait for their watch event (for tests and metrics). */
  get size(): number {
    return this.#created.size;
  }
}
