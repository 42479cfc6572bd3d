// Prometheus metrics. Each process makes its own Registry in src/cmd and passes it
// down; nothing registers at import time.
import type { KubeHttp } from "../kube/http.ts";
import { Counter, Gauge, Histogram, processMetrics, Registry } from "./prometheus.ts";

export { Registry };

export function newRegistry(): Registry {
  const registry = new Registry();
  processMetrics(registry, "cpa_process_");
  return registry;
}

/** Counts every apiserver request by verb and status code. */
export function instrumentKubeRequests(registry: Registry, http: KubeHttp): void {
  const requests = new Counter({
    name: "cpa_kube_requests_total",
    help: "Requests to the Kubernetes API, by method and status code (0: no answer).",
    labelNames: ["method", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "cpa_kube_request_duration_seconds",
    help: "Latency of requests to the Kubernetes API.",
    labelNames: ["method"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  http.observe((method, _path, status, seconds) => {
    requests.inc({ method, code: String(status) });
    duration.observe({ method }, seconds);
  });
}

export interface OperatorMetrics {
  reconciles: Counter<"result">;
  reconcileDuration: Histogram;
  queueDepth: Gauge;
  leader: Gauge;
}

export function operatorMetrics(registry: Registry, queueLength: () => number): OperatorMetrics {
  return {
    reconciles: new Counter({
      name: "cpa_operator_reconcile_total",
      help: "Reconcile passes, by result (success, requeue, error).",
      labelNames: ["result"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "cpa_operator_reconcile_duration_seconds",
      help: "Time of one reconcile pass.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "cpa_operator_queue_depth",
      help: "Keys waiting in the work queue.",
      registers: [registry],
      collect() {
        this.set(queueLength());
      },
    }),
    leader: new Gauge({
      name: "cpa_operator_leader",
      help: "1 while this replica is the leader and reconciles, else 0.",
      registers: [registry],
    }),
  };
}

export interface AutoscalerMetrics {
  runs: Counter<"result" | "run_type">;
  failures: Counter<"stage">;
  stageDuration: Histogram<"stage">;
  runDuration: Histogram;
  replicas: Gauge<"kind">;
  shadowDivergence: Gauge;
  fallbackActive: Gauge;
}

export function autoscalerMetrics(registry: Registry): AutoscalerMetrics {
  return {
    runs: new Counter({
      name: "cpa_autoscaler_runs_total",
      help: "Autoscaler runs, by result (success, failure) and run type (scaler, api, api_dry_run).",
      labelNames: ["result", "run_type"],
      registers: [registry],
    }),
    failures: new Counter({
      name: "cpa_autoscaler_failures_total",
      help: "Failed runs, by the stage that failed (metric, evaluate, a hook, read-target, update-scale).",
      labelNames: ["stage"],
      registers: [registry],
    }),
    stageDuration: new Histogram({
      name: "cpa_autoscaler_stage_duration_seconds",
      help: "Time spent in each stage of user logic.",
      labelNames: ["stage"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    runDuration: new Histogram({
      name: "cpa_autoscaler_run_duration_seconds",
      help: "Time of a whole run.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    replicas: new Gauge({
      name: "cpa_autoscaler_replicas",
      help: "Replicas of the target: current (as read) and desired (as decided).",
      labelNames: ["kind"],
      registers: [registry],
    }),
    shadowDivergence: new Gauge({
      name: "cpa_shadow_divergence_replicas",
      help:
        "A shadow CPA only (annotation custompodautoscaler.com/shadow): the replicas it would set minus the target's " +
        "actual replicas, at its latest run.",
      registers: [registry],
    }),
    fallbackActive: new Gauge({
      name: "cpa_autoscaler_fallback_active",
      help: "1 while config.fallback holds the target (failureThreshold runs failed in a row), else 0.",
      registers: [registry],
    }),
  };
}
