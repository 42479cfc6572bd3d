// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics:
// candidates take a Lease only once its record has stood still for the lease
// duration on their own clock, writes carry the resourceVersion so exactly one
// candidate wins a race, and a leader that cannot renew within the renew deadline
// steps down before anyone else may take over.
import {
  ApiException,
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
  type V1LeaseSpec,
  type V1ObjectMeta,
} from "@kubernetes/client-node";
import { sleep, systemClock, type Clock } from "../lib/clock.ts";

export interface LeaderElectorOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Hand the Lease over at once on a graceful stop (default true, like client-go's ReleaseOnCancel). */
  releaseOnCancel?: boolean;
  clock?: Clock;
  log?: (obj: object, msg: string) => void;
}

export interface LeaderCallbacks {
  /** The signal aborts when leadership is lost or run() is aborted. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called once after leading ends; never called if this candidate never led. */
  onStoppedLeading(): void;
  /** Called whenever a different holder is seen, ourselves included. */
  onNewLeader?(identity: string): void;
}

export class LeaderElector {
  readonly #api: CoordinationV1Api;
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
  #lease: V1Lease | undefined;
  // When the Lease's record last changed, by our clock. Expiry is measured from
  // here, never from renewTime, so the holder's clock skew does not matter.
  #observed: { record: string; at: number } | undefined;
  #lastHolder = "";
  #leading = false;

  constructor(options: LeaderElectorOptions) {
    this.#api = options.kc.makeApiClient(CoordinationV1Api);
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

  /** Campaigns until elected, leads until the lease is lost or signal aborts, then resolves. */
  async run(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    if (!(await this.#acquire(callbacks, signal))) return;
    this.#leading = true;
    const leadership = new AbortController();
    callbacks.onStartedLeading(leadership.signal);
    await this.#renew(callbacks, signal);
    this.#leading = false;
    leadership.abort();
    if (signal.aborted && this.#releaseOnCancel) await this.#release();
    callbacks.onStoppedLeading();
  }

  async #acquire(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew(callbacks, this.#clock.now() + this.#renewDeadlineMs)) {
        this.#log(this.#fields(), "Acquired lease");
        return true;
      }
      await sleep(this.#clock, this.#retryPeriodMs, signal);
    }
    return false;
  }

  /** Returns when the outer signal aborts or leadership is lost. */
  async #renew(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    let renewedAt = this.#clock.now();
    for (;;) {
      await sleep(this.#clock, this.#retryPeriodMs, signal);
      if (signal.aborted) return;
      // Every attempt, a hung request included, must end by the deadline.
      const deadline = renewedAt + this.#renewDeadlineMs;
      // Counted from when the attempt began: the renewTime we write is that moment,
      // so a slow response must not stretch our term past what others see.
      const attemptAt = this.#clock.now();
      if (deadline > attemptAt && (await this.#tryAcquireOrRenew(callbacks, deadline))) {
        renewedAt = attemptAt;
        continue;
      }
      const holder = this.#lease?.spec?.holderIdentity ?? "";
      if (holder !== "" && holder !== this.#identity) {
        this.#log({ ...this.#fields(), holder }, "Lost lease to another holder");
        return;
      }
      if (this.#clock.now() - renewedAt >= this.#renewDeadlineMs) {
        this.#log(this.#fields(), "Failed to renew lease within the renew deadline");
        return;
      }
    }
  }

  async #tryAcquireOrRenew(callbacks: LeaderCallbacks, deadline: number): Promise<boolean> {
    const now = this.#clock.now();
    let current: V1Lease;
    try {
      current = await this.#within(
        deadline,
        this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace }),
      );
    } catch (err) {
      if (codeOf(err) !== 404) return this.#failed(err, "Failed to read lease");
      return this.#write(callbacks, deadline, () =>
        this.#api.createNamespacedLease({
          namespace: this.#namespace,
          body: {
            metadata: { name: this.#name, namespace: this.#namespace },
            spec: this.#held(new V1MicroTime(now), now, 0),
          },
        }),
      );
    }
    this.#lease = current;
    this.#observe(current, callbacks);
    const spec: V1LeaseSpec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const ours = holder === this.#identity;
    if (holder !== "" && !ours && !this.#hasExpired(spec)) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (ours ? 0 : 1);
    const acquiredAt = ours && spec.acquireTime ? spec.acquireTime : new V1MicroTime(now);
    return this.#write(callbacks, deadline, () =>
      this.#api.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
        body: { metadata: this.#guard(current), spec: this.#held(acquiredAt, now, transitions) },
      }),
    );
  }

  async #write(callbacks: LeaderCallbacks, deadline: number, call: () => Promise<V1Lease>): Promise<boolean> {
    try {
      this.#lease = await this.#within(deadline, call());
      this.#observe(this.#lease, callbacks);
      return true;
    } catch (err) {
      // 409: another candidate wrote first (a create race, or a resourceVersion
      // conflict). That is an ordinary lost race, not worth a log line.
      return codeOf(err) === 409 ? false : this.#failed(err, "Failed to write lease");
    }
  }

  #held(acquireTime: V1MicroTime, renewTime: number, leaseTransitions: number): V1LeaseSpec {
    return {
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#leaseDurationMs / 1000)),
      acquireTime,
      renewTime: new V1MicroTime(renewTime),
      leaseTransitions,
    };
  }

  /** Metadata for an update that fails with 409 if anyone wrote since we read. */
  #guard(lease: V1Lease): V1ObjectMeta {
    const resourceVersion = lease.metadata?.resourceVersion;
    if (!resourceVersion) throw new Error("the Lease has no resourceVersion");
    return { name: this.#name, namespace: this.#namespace, resourceVersion };
  }

  #observe(lease: V1Lease, callbacks: LeaderCallbacks): void {
    const spec = lease.spec ?? {};
    // MicroTimes come back from the client as strings at runtime although typed as
    // Dates; JSON renders either the same, so the record compares stably.
    const record = JSON.stringify([
      spec.holderIdentity,
      spec.renewTime,
      spec.acquireTime,
      spec.leaseDurationSeconds,
      spec.leaseTransitions,
    ]);
    if (record !== this.#observed?.record) this.#observed = { record, at: this.#clock.now() };
    const holder = spec.holderIdentity ?? "";
    if (holder !== "" && holder !== this.#lastHolder) {
      this.#lastHolder = holder;
      callbacks.onNewLeader?.(holder);
    }
  }

  #hasExpired(spec: V1LeaseSpec): boolean {
    if (!this.#observed) return false;
    // The holder's declared duration rules, as in client-go: with mixed settings
    // (say, mid-rollout) a candidate with a shorter duration must not cut in early.
    const durationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
    return this.#clock.now() - this.#observed.at >= durationMs;
  }

  /** Hands the Lease over: an empty holder lets a standby take it on its next try. */
  async #release(): Promise<void> {
    const lease = this.#lease;
    if (lease?.spec?.holderIdentity !== this.#identity) return;
    const now = new V1MicroTime(this.#clock.now());
    try {
      this.#lease = await this.#within(
        this.#clock.now() + this.#renewDeadlineMs,
        this.#api.replaceNamespacedLease({
          name: this.#name,
          namespace: this.#namespace,
          body: {
            metadata: this.#guard(lease),
            spec: {
              holderIdentity: "",
              leaseDurationSeconds: 1,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: lease.spec.leaseTransitions ?? 0,
            },
          },
        }),
      );
      this.#log(this.#fields(), "Released lease");
    } catch (err) {
      this.#failed(err, "Failed to release lease");
    }
  }

  #failed(err: unknown, msg: string): false {
    this.#log({ ...this.#fields(), err }, msg);
    return false;
  }

  #fields(): { lease: string; identity: string } {
    return { lease: `${this.#namespace}/${this.#name}`, identity: this.#identity };
  }

  /**
   * Stops waiting for a request at deadline (clock time). The client takes no
   * abort signal per call, so the request itself runs on; a late result is dropped.
   */
  #within<T>(deadline: number, request: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => {
          reject(new Error("lease request did not finish before the renew deadline"));
        },
        Math.max(0, deadline - this.#clock.now()),
      );
      request.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

function codeOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}
