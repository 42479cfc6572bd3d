// Reports each run on the CustomPodAutoscaler the autoscaler belongs to: its
// status fields (server-side apply as "cpa-autoscaler", so the operator's fields
// are left alone), written only when they changed, and a SuccessfulRescale event
// on each scale. Reporting never fails a run.
import type { Logger } from "pino";
import { API_VERSION, GROUP, KIND, PLURAL } from "../api/names.ts";
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import { ConditionType } from "../api/conditions.ts";
import { resourcePath } from "../kube/discovery.ts";
import type { EventRecorder } from "../kube/events.ts";
import { isNotFound, KubeApiError, type KubeHttp } from "../kube/http.ts";
import type { Writer } from "../kube/writes.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import { autoscalerStatus, type AutoscalerStatus, type RunReport } from "./status.ts";

export const AUTOSCALER_FIELD_MANAGER = "cpa-autoscaler";

const MINE = new Set<string>([
  ConditionType.AbleToScale,
  ConditionType.ScalingActive,
  ConditionType.ScalingLimited,
]);

export class StatusReporter {
  readonly #http: KubeHttp;
  readonly #writer: Writer;
  readonly #namespace: string;
  readonly #name: string;
  readonly #events: EventRecorder;
  readonly #log: Logger;
  #cpa: CustomPodAutoscaler | undefined;
  #last: AutoscalerStatus | undefined;
  #enabled = true;
  /** The last failure a Warning event was recorded for; cleared by a successful run. */
  #lastWarning: string | undefined;

  constructor(opts: {
    http: KubeHttp;
    writer: Writer;
    namespace: string;
    name: string;
    events: EventRecorder;
    log: Logger;
  }) {
    this.#http = opts.http;
    this.#writer = opts.writer;
    this.#namespace = opts.namespace;
    this.#name = opts.name;
    this.#events = opts.events;
    this.#log = opts.log;
  }

  #path(): string {
    return resourcePath({ group: GROUP, version: "v1", resource: PLURAL }, this.#namespace);
  }

  /** Reads the CPA once, to carry on from the status a previous autoscaler Pod left. */
  async init(): Promise<void> {
    try {
      const cpa = await this.#http.request<CustomPodAutoscaler>("GET", `${this.#path()}/${this.#name}`);
      this.#cpa = cpa;
      const s = cpa.status;
      this.#last = {
        ...(s?.currentReplicas === undefined ? {} : { currentReplicas: s.currentReplicas }),
        ...(s?.desiredReplicas === undefined ? {} : { desiredReplicas: s.desiredReplicas }),
        ...(s?.lastScaleTime === undefined ? {} : { lastScaleTime: s.lastScaleTime }),
        ...(s?.decision === undefined ? {} : { decision: s.decision }),
        conditions: (s?.conditions ?? []).filter((c) => MINE.has(c.type)),
      };
    } catch (err) {
      this.#disable(err, "read");
    }
  }

  async report(report: RunReport, now: Date): Promise<void> {
    if (!this.#enabled || !this.#cpa) return;
    const status = autoscalerStatus(report, this.#last, now, this.#cpa.metadata.generation ?? 0);
    if (report.outcome?.scaled) {
      const d = report.outcome.decision;
      this.#events.record(
        this.#cpa,
        "Normal",
        "SuccessfulRescale",
        `New size: ${d.replicas}; reason: ${d.reason}`,
      );
    }
    this.#warnOnNewFailure(report, status);
    if (this.#last && canonicalJson(status) === canonicalJson(this.#last)) return;
    try {
      await this.#writer.applyStatus(this.#path(), this.#name, {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: this.#name, namespace: this.#namespace },
        status,
      });
      this.#last = status;
    } catch (err) {
      if (isNotFound(err)) return;
      if (err instanceof KubeApiError && err.status === 403) this.#disable(err, "write");
      else this.#log.warn({ err: String(err) }, "Could not write the CustomPodAutoscaler's status");
    }
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

  #disable(err: unknown, what: "read" | "write"): void {
    this.#enabled = false;
    this.#log.warn(
      { cpa: `${this.#namespace}/${this.#name}`, err: err instanceof Error ? err.message : String(err) },
      `Could not ${what} the CustomPodAutoscaler; status reporting is off (autoscaling goes on). ` +
        "With provisionRole: false, grant get on custompodautoscalers and patch on custompodautoscalers/status",
    );
  }
}
