// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics:
// candidates take a Lease only once its record has stood still for the lease
// duration on their own clock, writes carry the resourceVersion so exactly one
// candidate wins a race, and a leader that cannot renew within the renew deadline
// steps down before anyone else may take over.
//
// Durations are measured on the monotonic clock: a wall-clock step must never
// make a leader that failed to renew believe it still leads. Only the Lease's
// timestamps, which other replicas read, come from the wall clock.
import { sleep, systemClock, type Clock } from "../lib/clock.ts";
import { KubeApiError, type KubeClient } from "./http.ts";

export interface LeaderElectorOptions {
  http: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Hand the Lease over on a graceful stop (default true, like client-go's ReleaseOnCancel). */
  releaseOnCancel?: boolean;
  clock?: Clock;
  log?: (obj: object, msg: string) => void;
}

export interface LeaderCallbacks {
  /**
   * Leading starts. The signal aborts when leadership ends (lost, or run()
   * aborted). On a graceful stop the Lease is released only once the returned
   * promise settles, so the leader's work is over before anyone else may start.
   */
  onStartedLeading(signal: AbortSignal): Promise<void> | void;
  /**
   * Asked on a graceful stop once the work has returned: false when the work
   * could not see its last writes answered (one may still reach the
   * apiserver). The Lease is then left to expire instead of released, which
   * gives those writes the lease duration to land before anyone else leads.
   */
  mayRelease?(): boolean;
  /**
   * Leading has ended: lost is true when the Lease was lost rather than given
   * up. A lost Lease is reported at once, without waiting for the work: the
   * caller should exit. Never called if this candidate never led.
   */
  onStoppedLeading(lost: boolean): void;
  /** Called whenever a different holder is seen, ourselves included. */
  onNewLeader?(identity: string): void;
}

/** The parts of a coordination.k8s.io/v1 Lease we read and write. */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

type LeaseSpec = NonNullable<Lease["spec"]>;

/** A metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

export class LeaderElector {
  readonly #http: KubeClient;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #releaseOnCancel: boolean;
  readonly #clock: Clock;
  readonly #log: (obj: object, msg: string) => void;
  // The Lease as last read or written by us: its resourceVersion guards our next write.
  #lease: Lease | undefined;
  // When (monotonic) the Lease's record last changed. Expiry is measured from
  // here, never from renewTime, so the holder's clock skew does not matter.
  #observed: { record: string; at: number } | undefined;
  #lastHolder = "";
  #leading = false;

  constructor(options: LeaderElectorOptions) {
    this.#http = options.http;
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.#identity = options.identity;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#releaseOnCancel = options.releaseOnCancel ?? true;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => undefined);
    // A leader must give up before a standby may take over, and must get several
    // tries at renewing before it gives up.
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryPeriodMs)) {
      throw new RangeError("leader election needs leaseDurationMs > renewDeadlineMs > retryPeriodMs");
    }
    if (this.#retryPeriodMs <= 0) throw new RangeError("leader election needs retryPeriodMs > 0");
  }

  isLeader(): boolean {
    return this.#leading;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#namespace)}/leases`;
  }

  /** Campaigns until elected, leads until the lease is lost or signal aborts, then resolves. */
  async run(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    const termStart = await this.#acquire(callbacks, signal);
    if (termStart === undefined) return;
    this.#leading = true;
    const leadership = new AbortController();
    // The work ending on its own (it failed) ends the term too.
    const workEnded = new AbortController();
    let work: Promise<void> = Promise.resolve();
    try {
      const returned = callbacks.onStartedLeading(leadership.signal);
      if (returned) {
        work = returned;
        returned.then(
          () => {
            workEnded.abort();
          },
          (err: unknown) => {
            this.#log({ ...this.#fields(), err: String(err) }, "Leader's work failed; stepping down");
            workEnded.abort();
          },
        );
      }
    } catch (err) {
      this.#log({ ...this.#fields(), err: String(err) }, "Leader's work failed; stepping down");
      workEnded.abort();
    }
    const lost = await this.#renew(callbacks, termStart, AbortSignal.any([signal, workEnded.signal]));
    this.#leading = false;
    leadership.abort();
    if (lost) {
      // Someone else may lead now: say so at once; the caller exits.
      callbacks.onStoppedLeading(true);
      return;
    }
    // Graceful: our writers have stopped before the Lease is handed over.
    await work.catch(() => undefined);
    if (callbacks.mayRelease?.() === false) {
      this.#log(
        this.#fields(),
        "Writes were still in flight when the work stopped; leaving the lease to expire",
      );
    } else if (this.#releaseOnCancel) await this.#release();
    callbacks.onStoppedLeading(false);
  }

  /**
   * Campaigns until elected; resolves with when (monotonic) the winning
   * attempt began, which is where the first term is measured from, as every
   * renewal's is: the renewTime written is that moment, and a slow response
   * must not stretch the term past what others see. Undefined when aborted.
   */
  async #acquire(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<number | undefined> {
    while (!signal.aborted) {
      const attemptAt = this.#clock.monotonic();
      if (await this.#tryAcquireOrRenew(callbacks, attemptAt + this.#renewDeadlineMs, signal)) {
        this.#log(this.#fields(), "Acquired lease");
        return attemptAt;
      }
      await sleep(this.#clock, this.#retryPeriodMs, signal);
    }
    return undefined;
  }

  /** Returns true when leadership was lost, false when the signal aborted. */
  async #renew(callbacks: LeaderCallbacks, termStart: number, signal: AbortSignal): Promise<boolean> {
    let renewedAt = termStart;
    for (;;) {
      await sleep(this.#clock, this.#retryPeriodMs, signal);
      if (signal.aborted) return false;
      // Every attempt, a hung request included, must end by the deadline.
      const deadline = renewedAt + this.#renewDeadlineMs;
      // Counted from when the attempt began: the renewTime we write is that moment,
      // so a slow response must not stretch our term past what others see.
      const attemptAt = this.#clock.monotonic();
      if (deadline > attemptAt && (await this.#tryAcquireOrRenew(callbacks, deadline, signal))) {
        renewedAt = attemptAt;
        continue;
      }
      if (isAborted(signal)) return false;
      const holder = this.#lease?.spec?.holderIdentity ?? "";
      if (holder !== "" && holder !== this.#identity) {
        this.#log({ ...this.#fields(), holder }, "Lost lease to another holder");
        return true;
      }
      if (this.#clock.monotonic() - renewedAt >= this.#renewDeadlineMs) {
        this.#log(this.#fields(), "Failed to renew lease within the renew deadline");
        return true;
      }
    }
  }

  async #tryAcquireOrRenew(
    callbacks: LeaderCallbacks,
    deadline: number,
    signal: AbortSignal,
  ): Promise<boolean> {
    const wallNow = this.#clock.now();
    let current: Lease;
    try {
      current = await this.#request<Lease>(
        "GET",
        `${this.#path}/${encodeURIComponent(this.#name)}`,
        deadline,
        signal,
      );
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404))
        return this.#failed(err, "Failed to read lease");
      return this.#write(callbacks, deadline, signal, "POST", this.#path, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.#name, namespace: this.#namespace },
        spec: this.#held(microTime(wallNow), wallNow, 0),
      });
    }
    this.#lease = current;
    this.#observe(current, callbacks);
    const spec: LeaseSpec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const ours = holder === this.#identity;
    if (holder !== "" && !ours && !this.#hasExpired(spec)) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (ours ? 0 : 1);
    const acquiredAt = ours && spec.acquireTime ? spec.acquireTime : microTime(wallNow);
    return this.#write(
      callbacks,
      deadline,
      signal,
      "PUT",
      `${this.#path}/${encodeURIComponent(this.#name)}`,
      {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: this.#guard(current),
        spec: this.#held(acquiredAt, wallNow, transitions),
      },
    );
  }

  async #write(
    callbacks: LeaderCallbacks,
    deadline: number,
    signal: AbortSignal,
    method: "POST" | "PUT",
    path: string,
    body: Lease,
  ): Promise<boolean> {
    try {
      this.#lease = await this.#request<Lease>(method, path, deadline, signal, body);
      this.#observe(this.#lease, callbacks);
      return true;
    } catch (err) {
      // 409: another candidate wrote first (a create race, or a resourceVersion
      // conflict). That is an ordinary lost race, not worth a log line.
      return err instanceof KubeApiError && err.status === 409
        ? false
        : this.#failed(err, "Failed to write lease");
    }
  }

  #held(acquireTime: string, renewTime: number, leaseTransitions: number): LeaseSpec {
    return {
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#leaseDurationMs / 1000)),
      acquireTime,
      renewTime: microTime(renewTime),
      leaseTransitions,
    };
  }

  /** Metadata for an update that fails with 409 if anyone wrote since we read. */
  #guard(lease: Lease): NonNullable<Lease["metadata"]> {
    const resourceVersion = lease.metadata?.resourceVersion;
    if (!resourceVersion) throw new Error("the Lease has no resourceVersion");
    return { name: this.#name, namespace: this.#namespace, resourceVersion };
  }

  #observe(lease: Lease, callbacks: LeaderCallbacks): void {
    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity,
      spec.renewTime,
      spec.acquireTime,
      spec.leaseDurationSeconds,
      spec.leaseTransitions,
    ]);
    if (record !== this.#observed?.record) this.#observed = { record, at: this.#clock.monotonic() };
    const holder = spec.holderIdentity ?? "";
    if (holder !== "" && holder !== this.#lastHolder) {
      this.#lastHolder = holder;
      callbacks.onNewLeader?.(holder);
    }
  }

  #hasExpired(spec: LeaseSpec): boolean {
    if (!this.#observed) return false;
    // The holder's declared duration rules, as in client-go: with mixed settings
    // (say, mid-rollout) a candidate with a shorter duration must not cut in early.
    const durationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
    return this.#clock.monotonic() - this.#observed.at >= durationMs;
  }

  /** Hands the Lease over: an empty holder lets a standby take it on its next try. */
  async #release(): Promise<void> {
    const lease = this.#lease;
    if (lease?.spec?.holderIdentity !== this.#identity) return;
    const now = microTime(this.#clock.now());
    try {
      this.#lease = await this.#request<Lease>(
        "PUT",
        `${this.#path}/${encodeURIComponent(this.#name)}`,
        this.#clock.monotonic() + this.#renewDeadlineMs,
        undefined,
        {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: this.#guard(lease),
          spec: {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: lease.spec.leaseTransitions ?? 0,
          },
        },
      );
      this.#log(this.#fields(), "Released lease");
    } catch (err) {
      this.#failed(err, "Failed to release lease");
    }
  }

  #failed(err: unknown, msg: string): false {
    this.#log({ ...this.#fields(), err: err instanceof Error ? err.message : String(err) }, msg);
    return false;
  }

  #fields(): { lease: string; identity: string } {
    return { lease: `${this.#namespace}/${this.#name}`, identity: this.#identity };
  }

  /** One request that is aborted at deadline (monotonic ms) or with signal. */
  async #request<T>(
    method: string,
    path: string,
    deadline: number,
    signal: AbortSignal | undefined,
    body?: unknown,
  ): Promise<T> {
    const timeout = new AbortController();
    const timer = this.#clock.setTimeout(
      () => {
        timeout.abort(new Error("lease request did not finish before the renew deadline"));
      },
      Math.max(0, deadline - this.#clock.monotonic()),
    );
    try {
      return await this.#http.request<T>(method, path, {
        ...(body === undefined ? {} : { body }),
        signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
      });
    } finally {
      timer.cancel();
    }
  }
}

/** Read through a call: TypeScript would otherwise narrow `signal.aborted` across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
