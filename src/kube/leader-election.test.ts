import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../lib/fake-clock.ts";
import { KubeApiError, type CallOptions, type KubeClient } from "./http.ts";
import { LeaderElector, microTime, type Lease } from "./leader-election.ts";

/** A Lease store with the apiserver's create and optimistic-concurrency rules, and switchable faults. */
class FakeLeases implements KubeClient {
  lease: Lease | undefined;
  #rv = 0;
  /** Requests fail (a 500) while true. */
  failing = false;
  /** Requests never answer (until aborted) while true. */
  hanging = false;
  readonly log: string[] = [];

  request<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const body = options.body as Lease | undefined;
    this.log.push(`${method} ${body?.spec?.holderIdentity ?? ""}`.trim());
    if (this.hanging) return this.#hang(method, path, options.signal);
    if (this.failing) return Promise.reject(new KubeApiError(method, path, 500, { message: "etcd is down" }));
    const refused = this.#refusal(method, body);
    if (refused)
      return Promise.reject(new KubeApiError(method, path, refused.status, { reason: refused.reason }));
    if (method !== "GET") {
      this.#rv++;
      this.lease = { ...body, metadata: { ...body?.metadata, resourceVersion: String(this.#rv) } };
    }
    return Promise.resolve(structuredClone(this.lease) as T);
  }

  /** The apiserver's answer to a request it refuses: 404 on a missing Lease, 409 on a lost race. */
  #refusal(method: string, body: Lease | undefined): { status: number; reason: string } | undefined {
    if (method === "GET" && !this.lease) return { status: 404, reason: "NotFound" };
    if (method === "POST" && this.lease) return { status: 409, reason: "AlreadyExists" };
    if (method === "PUT" && body?.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion)
      return { status: 409, reason: "Conflict" };
    return undefined;
  }

  #hang<T>(method: string, path: string, signal: AbortSignal | undefined): Promise<T> {
    return new Promise((_resolve, reject) => {
      signal?.addEventListener("abort", () => {
        reject(new KubeApiError(method, path, 0, undefined, signal.reason));
      });
    });
  }

  stream(): Promise<void> {
    return Promise.reject(new Error("no watches here"));
  }

  /** Another candidate takes the Lease by force, as an admin edit would. */
  takeBy(holder: string): void {
    this.#rv++;
    this.lease = {
      metadata: { name: "lease", namespace: "ns", resourceVersion: String(this.#rv) },
      spec: { ...this.lease?.spec, holderIdentity: holder, renewTime: microTime(0) },
    };
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Moves the clock in small steps, letting requests and callbacks run between them. */
async function tick(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await flush();
    await flush();
  }
}

interface Candidate {
  elector: LeaderElector;
  stop: AbortController;
  done: Promise<void>;
  events: string[];
  leadership?: AbortSignal;
}

function candidate(
  clock: FakeClock,
  leases: FakeLeases,
  identity: string,
  work?: (signal: AbortSignal) => Promise<void>,
  mayRelease?: () => boolean,
): Candidate {
  const elector = new LeaderElector({
    http: leases,
    namespace: "ns",
    name: "lease",
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    clock,
  });
  const stop = new AbortController();
  const c: Candidate = { elector, stop, done: Promise.resolve(), events: [] };
  c.done = elector.run(
    {
      onStartedLeading(signal) {
        c.events.push("started");
        c.leadership = signal;
        return work?.(signal);
      },
      onStoppedLeading(lost) {
        c.events.push(lost ? "lost" : "stopped");
      },
      ...(mayRelease ? { mayRelease } : {}),
    },
    stop.signal,
  );
  return c;
}

describe("LeaderElector", () => {
  test("acquires a missing Lease, then renews it every retry period", async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const leases = new FakeLeases();
    const a = candidate(clock, leases, "a");
    await tick(clock, 100);
    assert.deepEqual(a.events, ["started"]);
    assert.equal(leases.lease?.spec?.holderIdentity, "a");
    assert.equal(leases.lease.spec.leaseDurationSeconds, 15);
    assert.equal(leases.lease.spec.renewTime, "2023-11-14T22:13:20.000000Z");
    const writes = (): number => leases.log.filter((l) => l.startsWith("PUT") || l.startsWith("POST")).length;
    const before = writes();
    await tick(clock, 6_000);
    assert.equal(writes() - before, 3);
    a.stop.abort();
    await a.done;
  });

  test("a standby waits out the lease duration of an unchanged record before taking over", async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = candidate(clock, leases, "a");
    await tick(clock, 100);
    const b = candidate(clock, leases, "b");
    await tick(clock, 30_000);
    assert.deepEqual(b.events, [], "b took over a renewing leader");
    // a dies without releasing: its record stops changing.
    leases.failing = true;
    a.stop.abort();
    await tick(clock, 2_000);
    leases.failing = false;
    const diedAt = clock.monotonic();
    const started = (): boolean => b.events.includes("started");
    while (!started()) await tick(clock, 100);
    assert.ok(clock.monotonic() - diedAt >= 15_000 - 2_000, "b took over before the lease ran out");
    assert.equal(leases.lease?.spec?.holderIdentity, "b");
    assert.equal(leases.lease.spec.leaseTransitions, 1);
    b.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  test("a leader that cannot renew steps down within the renew deadline, before the lease could expire", async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = candidate(clock, leases, "a");
    await tick(clock, 100);
    const lastRenewal = clock.monotonic();
    leases.hanging = true;
    while (!a.events.includes("lost")) await tick(clock, 100);
    const after = clock.monotonic() - lastRenewal;
    assert.ok(after <= 10_000 + 2_000, `stepped down ${after} ms after its last renewal`);
    assert.ok(after < 15_000, "stepped down only after the lease could have expired");
    assert.equal(a.leadership?.aborted, true);
    assert.equal(a.elector.isLeader(), false);
    await a.done;
  });

  test("the first term is measured from when the acquiring attempt began, not from its slow answer", async () => {
    const clock = new FakeClock();
    // The apiserver takes 5 s to answer the winning create, then fails every renewal.
    class SlowFirst extends FakeLeases {
      #answered = 0;
      override request<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
        if (method === "POST" && this.#answered++ === 0) {
          const answer = super.request<T>(method, path, options);
          return new Promise((resolve) => {
            clock.setTimeout(() => {
              resolve(answer);
            }, 5000);
          });
        }
        return super.request<T>(method, path, options);
      }
    }
    const leases = new SlowFirst();
    const attemptAt = clock.monotonic();
    const a = candidate(clock, leases, "a");
    while (!a.events.includes("started")) await tick(clock, 100);
    assert.ok(clock.monotonic() - attemptAt >= 5000, "the acquire took its 5 s");
    leases.failing = true;
    while (!a.events.includes("lost")) await tick(clock, 100);
    const term = clock.monotonic() - attemptAt;
    // Others see renewTime = the attempt's start: stepping down later than renewDeadline (10 s)
    // after it, plus one retry period, would overlap a successor's term.
    assert.ok(term <= 10_000 + 2_000, `stepped down ${term} ms after the acquiring attempt began`);
    await a.done;
  });

  test("a wall-clock step does not keep a leader that cannot renew in office", async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const leases = new FakeLeases();
    const a = candidate(clock, leases, "a");
    await tick(clock, 100);
    leases.failing = true;
    // The wall clock jumps back an hour: a leader timing its term by Date.now() would think no time passed.
    clock.stepWall(-3_600_000);
    await tick(clock, 12_500);
    assert.deepEqual(a.events, ["started", "lost"]);
    await a.done;
  });

  test("losing the Lease to another holder is reported at once, without waiting for the work", async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    let finish: () => void = () => undefined;
    const work = (): Promise<void> => new Promise((resolve) => (finish = resolve));
    const a = candidate(clock, leases, "a", work);
    await tick(clock, 100);
    leases.takeBy("intruder");
    await tick(clock, 2_100);
    assert.deepEqual(a.events, ["started", "lost"]);
    assert.equal(a.leadership?.aborted, true);
    await a.done;
    finish();
  });

  test("a graceful stop releases the Lease only after the leader's work has returned", async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    let finishWork: () => void = () => undefined;
    const order: string[] = [];
    const a = candidate(clock, leases, "a", async (signal) => {
      await new Promise<void>((resolve) => {
        signal.addEventListener("abort", () => {
          resolve();
        });
      });
      order.push("work aborted, still finishing");
      await new Promise<void>((resolve) => (finishWork = resolve));
      order.push("work returned");
    });
    await tick(clock, 100);
    a.stop.abort();
    await tick(clock, 100);
    assert.equal(leases.lease?.spec?.holderIdentity, "a", "released while the work was still running");
    order.push(`holder ${leases.lease.spec.holderIdentity}`);
    finishWork();
    await a.done;
    assert.deepEqual(order, ["work aborted, still finishing", "holder a", "work returned"]);
    assert.equal(leases.lease.spec.holderIdentity, "");
    assert.deepEqual(a.events, ["started", "stopped"]);
  });

  test("work that stops with writes unanswered leaves the Lease to expire rather than hand it over", async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    let asked = false;
    const a = candidate(
      clock,
      leases,
      "a",
      (signal) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            resolve();
          });
        }),
      () => {
        asked = true;
        return false;
      },
    );
    await tick(clock, 100);
    a.stop.abort();
    await a.done;
    assert.ok(asked);
    assert.equal(leases.lease?.spec?.holderIdentity, "a", "released although a write may still land");
    assert.deepEqual(a.events, ["started", "stopped"]);
  });

  test("work that fails ends the term and hands the Lease over", async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const a = candidate(clock, leases, "a", () => Promise.reject(new Error("controller crashed")));
    await tick(clock, 2_100);
    await a.done;
    assert.deepEqual(a.events, ["started", "stopped"]);
    assert.equal(leases.lease?.spec?.holderIdentity, "");
  });
});
