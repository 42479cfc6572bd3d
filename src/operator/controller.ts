// Wires the informers, the work queue and the reconciler together. Every event,
// on a CPA or on an object it owns, becomes the CPA's namespace/name key; a
// periodic resync queues every CPA again. Workers call reconcile(key).
import type { Logger } from "pino";
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import { GROUP, KIND, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLURAL } from "../api/names.ts";
import { Discovery, resourcePath } from "../kube/discovery.ts";
import { ApiEventRecorder } from "../kube/events.ts";
import { DrainingClient, type KubeHttp } from "../kube/http.ts";
import type { ServiceAccountRef } from "../kube/identity.ts";
import { Informer, listGate, type InformerOptions } from "../kube/informer.ts";
import { InformerGroup } from "../kube/informer-group.ts";
import { keyOf, type KubeObject } from "../kube/objects.ts";
import { runWorkers, WorkQueue } from "../kube/work-queue.ts";
import { Writer } from "../kube/writes.ts";
import { systemClock, type Clock } from "../lib/clock.ts";
import type { OperatorMetrics } from "../lib/metrics.ts";
import { keepFor } from "./cache.ts";
import { Expectations } from "./expectations.ts";
import { OWNED_KINDS } from "./owned/index.ts";
import { StatusLane } from "./status-lane.ts";
import { CONTROLLER_INDEX, controllerOf, controllerUid, cpaChangeMatters } from "./ownership.ts";
import { reconcile, type ReconcileDeps } from "./reconcile.ts";
import { resolveScaleTarget } from "./target.ts";

export const FIELD_MANAGER = "cpa-operator";

export interface ControllerOptions {
  http: KubeHttp;
  log: Logger;
  /**
   * Only these namespaces (the namespaced install: one informer per kind and
   * namespace); all namespaces when undefined.
   */
  namespaces?: readonly string[] | undefined;
  workers?: number;
  resyncMs?: number;
  instance: string;
  queue?: WorkQueue;
  metrics?: OperatorMetrics;
  clock?: Clock;
  /** The operator's own ServiceAccount, which no autoscaler Pod may run as. */
  serviceAccount?: ServiceAccountRef | undefined;
  /** Server-side timeout of each watch; the informers renew them after it. */
  watchTimeoutSeconds?: number;
  /** Why nothing may be provisioned now (admission-guard.ts); every CPA then reports it. */
  admissionProblem?: () => string | undefined;
  /** How long requests already sent may run on once run() is stopped (default 10 s). */
  shutdownGraceMs?: number;
}

/** How run() ended: settled is false when requests still in flight at the grace period's end were aborted. */
export interface RunEnd {
  settled: boolean;
}

export class Controller {
  readonly #opts: ControllerOptions;
  readonly queue: WorkQueue;
  #informers: Informer<KubeObject>[] = [];
  #requeueAll: () => void = () => undefined;

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
    this.queue = opts.queue ?? new WorkQueue();
  }

  /** True once every cache has its first full list. */
  get synced(): boolean {
    return this.#informers.length > 0 && this.#informers.every((i) => i.hasSynced());
  }

  /** Queues every cached CPA again (the admission policy came or went); nothing before caches sync. */
  requeueAll(): void {
    this.#requeueAll();
  }

  /**
   * How long (ms) the stalest cache has gone without a working watch; 0 when
   * not running (a standby has nothing to keep current).
   */
  staleFor(): number {
    return Math.max(0, ...this.#informers.map((i) => i.staleFor()));
  }

  /**
   * Reconciles until the signal aborts. Then it takes no more keys and sends no
   * new request; requests already sent run on to their answer for up to the
   * grace period, and are aborted after it. It resolves once every worker has
   * returned and nothing is in flight: after that it writes nothing, and unless
   * the grace period ran out the apiserver has seen every write it made.
   */
  async run(signal: AbortSignal): Promise<RunEnd> {
    const clock = this.#opts.clock ?? systemClock;
    const http = new DrainingClient(this.#opts.http, signal);
    let grace: { cancel(): void } | undefined;
    const startGrace = (): void => {
      grace = clock.setTimeout(() => {
        http.cut();
      }, this.#opts.shutdownGraceMs ?? 10_000);
    };
    if (signal.aborted) startGrace();
    else signal.addEventListener("abort", startGrace, { once: true });
    try {
      await this.#run(signal, http, clock);
      await http.idle();
      return { settled: http.settled };
    } finally {
      signal.removeEventListener("abort", startGrace);
      grace?.cancel();
      this.#informers = [];
    }
  }

  async #run(signal: AbortSignal, http: DrainingClient, clock: Clock): Promise<void> {
    const { log } = this.#opts;
    const namespaces: readonly (string | undefined)[] = this.#opts.namespaces ?? [undefined];
    const owned = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
    const watchTimeoutSeconds = this.#opts.watchTimeoutSeconds;
    // One list at a time, across every kind and namespace: at start, and when an
    // outage makes them all relist, their peaks would otherwise add up.
    const gate = listGate();
    const informer = <T extends KubeObject>(
      type: Parameters<typeof resourcePath>[0],
      kind: string,
      options: Pick<InformerOptions, "labelSelector" | "relevant" | "indexers">,
    ): InformerGroup<T> =>
      new InformerGroup(
        namespaces.map(
          (namespace) =>
            [
              namespace,
              new Informer<T>({
                http,
                path: resourcePath(type, namespace),
                log,
                clock,
                // Only what the reconciler reads is cached (cache.ts).
                transform: keepFor(kind),
                listGate: gate,
                ...options,
                ...(watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds }),
              }),
            ] as const,
        ),
      );
    const cpas = informer<CustomPodAutoscaler>(
      { group: GROUP, version: "v1", resource: PLURAL },
      "CustomPodAutoscaler",
      // Status-only writes (every autoscaler's, every interval) queue nothing.
      { relevant: cpaChangeMatters },
    );
    // Each owned kind's informer holds only the objects labelled as the operator's, indexed by their CPA.
    const ownedKind = { labelSelector: owned, indexers: { [CONTROLLER_INDEX]: controllerUid } };
    const ownedCaches = new Map(
      OWNED_KINDS.map((k) => [k.kind, { kind: k, cache: informer<KubeObject>(k.type, k.kind, ownedKind) }]),
    );
    const groups = [cpas, ...[...ownedCaches.values()].map((o) => o.cache)] as InformerGroup<KubeObject>[];
    this.#informers = groups.flatMap((g) => g.members);

    cpas.onChange((cpa) => {
      // A change the operator reads (informer filter): a CPA that was backing off starts afresh, now.
      this.queue.forget(keyOf(cpa));
      this.queue.add(keyOf(cpa));
    });
    // Events on owned objects: the cache now shows the operator's own create
    // (expectations.ts), and the owning CPA reconciles.
    const expectations = new Expectations(clock);
    for (const { kind, cache } of ownedCaches.values())
      cache.onChange((obj) => {
        expectations.observed(
          Expectations.key(kind.type.resource, obj.metadata?.namespace, obj.metadata?.name),
        );
        const owner = controllerOf(obj);
        if (owner?.kind === KIND && owner.apiVersion.startsWith(`${GROUP}/`)) {
          this.queue.add(`${obj.metadata?.namespace ?? ""}/${owner.name}`);
        }
      });

    const discovery = new Discovery(http);
    const writer = new Writer(http, FIELD_MANAGER);
    const statusLane = new StatusLane({
      write: async (key, body) => {
        const [ns = "", name = ""] = key.split("/");
        await writer.applyStatus(
          resourcePath({ group: GROUP, version: "v1", resource: PLURAL }, ns),
          name,
          body,
        );
      },
      hold: () => this.queue.len() > 0,
      retry: (key, err) => {
        log.warn(
          { cpa: key, err: err instanceof Error ? err.message : String(err) },
          "Could not write status; will retry",
        );
        this.queue.addRateLimited(key);
      },
    });
    const deps: ReconcileDeps = {
      cpas,
      owned: new Map([...ownedCaches].map(([name, o]) => [name, o.cache])),
      http,
      writer,
      submitStatus: (key, body) => {
        statusLane.submit(key, body);
      },
      resolveTarget: (apiVersion, kind) => resolveScaleTarget(discovery, apiVersion, kind),
      // Events wait while keys do: during a burst the apiserver's capacity goes to the creates.
      events: new ApiEventRecorder(http, FIELD_MANAGER, this.#opts.instance, log, () => this.queue.len() > 0),
      log,
      now: () => new Date(clock.now()),
      operatorServiceAccount: this.#opts.serviceAccount,
      expectations,
      ...(this.#opts.admissionProblem ? { admissionProblem: this.#opts.admissionProblem } : {}),
    };

    const informersDone = Promise.all(groups.map((g) => g.run(signal)));
    await Promise.race([Promise.all(groups.map((g) => g.waitForSync())), aborted(signal)]);
    if (signal.aborted) {
      this.queue.shutDown();
      await informersDone;
      return;
    }
    log.info({ cpas: cpas.list().length }, "Caches synced; reconciling");

    // A periodic resync catches anything a missed event would leave behind; it costs
    // no writes, because an unchanged CPA reconciles to zero writes.
    const resyncMs = this.#opts.resyncMs ?? 10 * 60_000;
    const queue = this.queue;
    this.#requeueAll = () => {
      for (const cpa of cpas.list()) queue.add(keyOf(cpa));
    };
    const tick = (): void => {
      this.#requeueAll();
      resync = clock.setTimeout(tick, resyncMs);
    };
    let resync = clock.setTimeout(tick, resyncMs);
    signal.addEventListener(
      "abort",
      () => {
        resync.cancel();
        this.#requeueAll = () => undefined;
        this.queue.shutDown();
      },
      { once: true },
    );

    const metrics = this.#opts.metrics;
    await runWorkers(
      this.queue,
      this.#opts.workers ?? 4,
      async (key) => {
        const end = metrics?.reconcileDuration.startTimer();
        const started = clock.monotonic();
        try {
          const result = await reconcile(key, deps);
          metrics?.reconciles.inc({ result: result.requeueAfterMs === undefined ? "success" : "requeue" });
          log.debug(
            {
              cpa: key,
              ms: Math.round(clock.monotonic() - started),
              requeueAfterMs: result.requeueAfterMs,
              ...(result.terminal ? { terminal: true } : {}),
            },
            "Reconciled",
          );
          if (result.requeueAfterMs === undefined) return undefined;
          return {
            requeueAfterMs: result.requeueAfterMs,
            ...(result.backOff ? { backOff: true } : {}),
            ...(result.terminal ? { terminal: true } : {}),
          };
        } finally {
          end?.();
        }
      },
      (key, err) => {
        // Passes aborted because we are stopping are not failures.
        if (signal.aborted) return;
        metrics?.reconciles.inc({ result: "error" });
        log.error(
          { cpa: key, err: err instanceof Error ? err.message : String(err) },
          "Reconcile failed; will retry",
        );
      },
    );
    await statusLane.stop();
    await informersDone;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else
      signal.addEventListener(
        "abort",
        () => {
          resolve();
        },
        { once: true },
      );
  });
}
