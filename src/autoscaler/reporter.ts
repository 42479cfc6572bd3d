// Reports each run on the CustomPodAutoscaler the autoscaler belongs to: its
// status fields (server-side apply as "cpa-autoscaler", so the operator's fields
// are left alone), written only when they changed, and a SuccessfulRescale event
// on each scale. Reporting never fails a run: a failed read or write (the API
// down, RBAC not granted yet) is retried with backoff until it works.
import type { Logger } from "pino";
import { API_VERSION, GROUP, KIND, PLURAL } from "../api/names.ts";
import type { CustomPodAutoscaler, PersistedHistory } from "../api/custom-pod-autoscaler.ts";
import { ConditionType } from "../api/conditions.ts";
import { resourcePath } from "../kube/discovery.ts";
import type { EventRecorder } from "../kube/events.ts";
import { isNotFound, KubeApiError, type KubeClient } from "../kube/http.ts";
import type { Writer } from "../kube/writes.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import { systemClock, type Clock } from "../lib/clock.ts";
import { historyToWrite } from "./durable.ts";
import { autoscalerStatus, type AutoscalerStatus, type RunReport } from "./status.ts";

export const AUTOSCALER_FIELD_MANAGER = "cpa-autoscaler";

const MINE = new Set<string>([
  ConditionType.AbleToScale,
  ConditionType.ScalingActive,
  ConditionType.ScalingLimited,
]);

/** Backoff between attempts after a failed read or write of the CPA. */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;

export class StatusReporter {
  readonly #http: KubeClient;
  readonly #writer: Writer;
  readonly #namespace: string;
  readonly #name: string;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  readonly #clock: Clock;
  #cpa: CustomPodAutoscaler | undefined;
  /** What the status should say: the latest run's report. */
  #current: AutoscalerStatus | undefined;
  /** A run reported before the CPA could be read, to compute #current once it is. */
  #unread: { report: RunReport; now: Date } | undefined;
  /** What the server has, as far as we know. */
  #written: AutoscalerStatus | undefined;
  #failures = 0;
  #loggedFailure: string | undefined;
  #retry: { cancel(): void } | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;
  /** What the last ShadowRescale event said (would set / actual), or undefined when the shadow agreed. */
  #lastShadow: string | undefined;
  /** The last failure a Warning event was recorded for; cleared by a successful run. */
  #lastWarning: string | undefined;
  /** When status.history last changed on the server by our write (durable.ts coalesces on it). */
  #historyWrittenAt: number | undefined;
  /** status.history as the CPA had it when first read: what a new autoscaler Pod starts from. */
  #startHistory: PersistedHistory | undefined;

  constructor(opts: {
    http: KubeClient;
    writer: Writer;
    namespace: string;
    name: string;
    events: EventRecorder;
    log: Logger;
    clock?: Clock;
  }) {
    this.#http = opts.http;
    this.#writer = opts.writer;
    this.#namespace = opts.namespace;
    this.#name = opts.name;
    this.#events = opts.events;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
  }

  #path(): string {
    return resourcePath({ group: GROUP, version: "v1", resource: PLURAL }, this.#namespace);
  }

  /**
   * Reads the CPA, to carry on from the status a previous autoscaler Pod left.
   * A failure is retried with backoff, not fatal: autoscaling does not need it.
   */
  async init(): Promise<void> {
    await this.#flush();
  }

  /**
   * The CPA's status.history when this autoscaler first read the CPA, or
   * "unread" when it could not be read yet (init retries in the background).
   */
  get startHistory(): PersistedHistory | undefined | "unread" {
    return this.#cpa ? this.#startHistory : "unread";
  }

  /** An event on the CPA, once it has been read; otherwise only the log has it. */
  event(type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.#cpa) this.#events.record(this.#cpa, type, reason, message);
  }

  /** Stops retrying (the autoscaler is shutting down). */
  close(): void {
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = undefined;
  }

  async report(report: RunReport, now: Date): Promise<void> {
    if (this.#cpa) this.#record(report, now);
    else this.#unread = { report, now };
    await this.#flush();
  }

  /** Folds a run into the status to write, with its events. */
  #record(report: RunReport, now: Date): void {
    const cpa = this.#cpa;
    if (!cpa) return;
    const base = autoscalerStatus(report, this.#current ?? this.#written, now, cpa.metadata.generation ?? 0);
    const history = report.history
      ? historyToWrite({
          written: this.#written?.history,
          next: report.history,
          writtenAt: this.#historyWrittenAt,
          now: now.getTime(),
        })
      : (this.#current ?? this.#written)?.history;
    const status = history ? { ...base, history } : base;
    if (report.outcome?.scaled) {
      const d = report.outcome.decision;
      this.#events.record(cpa, "Normal", "SuccessfulRescale", `New size: ${d.replicas}; reason: ${d.reason}`);
    }
    this.#shadowEvent(cpa, report);
    const fb = report.fallback;
    if (fb?.scaled)
      this.#events.record(
        cpa,
        "Warning",
        "FallbackScale",
        `${fb.failedRuns} runs failed in a row: set the target to fallback.replicas, ${fb.replicas} (it had ${fb.current}); ${report.failure?.error.message ?? ""}`,
      );
    this.#warnOnNewFailure(report, status);
    this.#current = status;
  }

  /**
   * A shadow's "I would scale" as an event, once for each change of what it
   * would set or of the target's actual replicas: not every interval.
   */
  #shadowEvent(cpa: CustomPodAutoscaler, report: RunReport): void {
    const o = report.outcome;
    if (!o?.shadow) return;
    const key = o.decision.scale ? `${o.decision.replicas}/${o.target.current}` : undefined;
    if (key !== undefined && key !== this.#lastShadow)
      this.#events.record(
        cpa,
        "Normal",
        "ShadowRescale",
        `Would set the target to ${o.decision.replicas} replicas (it has ${o.target.current}); shadow mode never writes /scale; reason: ${o.decision.reason}`,
      );
    this.#lastShadow = key;
  }

  /** Brings the server up to date, once at a time; a failure schedules a retry. */
  #flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushOnce());
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    // Backing off: the retry timer flushes.
    if (this.#retry || this.#closed) return;
    let step: "read" | "write" = "read";
    try {
      if (!this.#cpa) await this.#read();
      step = "write";
      const current = this.#current;
      if (current && !(this.#written && canonicalJson(current) === canonicalJson(this.#written))) {
        await this.#writer.applyStatus(this.#path(), this.#name, {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name: this.#name, namespace: this.#namespace },
          status: current,
        });
        if (canonicalJson(current.history ?? null) !== canonicalJson(this.#written?.history ?? null))
          this.#historyWrittenAt = this.#clock.now();
        this.#written = current;
      }
      if (this.#failures > 0) this.#log.info({ cpa: this.#key() }, "Status reporting works again");
      this.#failures = 0;
      this.#loggedFailure = undefined;
    } catch (err) {
      // The CPA is gone (being deleted with its Pod): nothing to report on.
      if (isNotFound(err)) return;
      this.#failed(err, step);
    }
  }

  async #read(): Promise<void> {
    const cpa = await this.#http.request<CustomPodAutoscaler>("GET", `${this.#path()}/${this.#name}`);
    this.#cpa = cpa;
    const s = cpa.status;
    this.#startHistory = s?.history;
    this.#written = {
      ...(s?.currentReplicas === undefined ? {} : { currentReplicas: s.currentReplicas }),
      ...(s?.desiredReplicas === undefined ? {} : { desiredReplicas: s.desiredReplicas }),
      ...(s?.lastScaleTime === undefined ? {} : { lastScaleTime: s.lastScaleTime }),
      ...(s?.decision === undefined ? {} : { decision: s.decision }),
      ...(s?.history === undefined ? {} : { history: s.history }),
      conditions: (s?.conditions ?? []).filter((c) => MINE.has(c.type)),
    };
    if (this.#unread) {
      this.#record(this.#unread.report, this.#unread.now);
      this.#unread = undefined;
    }
  }

  #failed(err: unknown, step: "read" | "write"): void {
    this.#failures++;
    const delay = Math.min(RETRY_BASE_MS * 2 ** (this.#failures - 1), RETRY_MAX_MS);
    const message = err instanceof Error ? err.message : String(err);
    const forbidden = err instanceof KubeApiError && err.status === 403;
    // Once per kind of failure, not once per retry.
    const kind = `${step}:${forbidden ? "403" : message}`;
    if (kind !== this.#loggedFailure) {
      this.#loggedFailure = kind;
      this.#log.warn(
        { cpa: this.#key(), err: message, retryInMs: delay },
        `Could not ${step} the CustomPodAutoscaler; retrying (autoscaling goes on)` +
          (forbidden
            ? ". With provisionRole: false, grant get on custompodautoscalers and patch on custompodautoscalers/status"
            : ""),
      );
    }
    this.#retry = this.#clock.setTimeout(() => {
      this.#retry = undefined;
      void this.#flush();
    }, delay);
  }

  #key(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  /**
   * A Warning event when runs start failing, or fail differently: once per
   * distinct failure rather than once per run, so a broken autoscaler does not
   * write an event every interval. The conditions carry the current state.
   */
  #warnOnNewFailure(report: RunReport, status: AutoscalerStatus): void {
    if (!report.failure) {
      this.#lastWarning = undefined;
      return;
    }
    const failed = status.conditions.find(
      (c) => c.status === "False" && c.type !== ConditionType.ScalingLimited,
    );
    if (!failed || !this.#cpa) return;
    const key = `${failed.reason}\u0000${failed.message}`;
    if (key === this.#lastWarning) return;
    this.#lastWarning = key;
    this.#events.record(this.#cpa, "Warning", failed.reason, failed.message);
  }
}
