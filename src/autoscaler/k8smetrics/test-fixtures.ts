// Small builders for the tests of this folder: pods and metrics API answers.
import type { ExternalMetricValueList, MetricValueList, Pod, PodMetricsList, RawQuantity } from "./types.ts";

/** The tests' clock: 2024-01-01T12:00:00Z. */
export const NOW = Date.parse("2024-01-01T12:00:00Z");

/** An RFC 3339 time `seconds` before NOW. */
export const ago = (seconds: number): string =>
  new Date(NOW - seconds * 1000).toISOString().replace(".000", "");

export interface PodOptions {
  phase?: string;
  /** "True", "False", "Unknown", or null for no Ready condition. */
  ready?: string | null;
  /** Seconds before NOW the pod started; null for no start time. */
  startedAgo?: number | null;
  /** Seconds before NOW the Ready condition last changed. */
  transitionAgo?: number;
  deleted?: boolean;
  /** Requests per container, e.g. [{ cpu: "100m" }, { cpu: "150m" }]. */
  requests?: Record<string, RawQuantity>[];
}

/** A Running, Ready pod started an hour ago (well past any initialisation period), unless told otherwise. */
export function pod(name: string, o: PodOptions = {}): Pod {
  const { phase = "Running", ready = "True", startedAgo = 3600, transitionAgo = 3500 } = o;
  const requests = o.requests ?? [{ cpu: "200m", memory: "128Mi" }];
  return {
    metadata: { name, ...(o.deleted ? { deletionTimestamp: ago(1) } : {}) },
    spec: { containers: requests.map((r, i) => ({ name: `c${i}`, resources: { requests: r } })) },
    status: {
      phase,
      ...(startedAgo === null ? {} : { startTime: ago(startedAgo) }),
      conditions:
        ready === null ? [] : [{ type: "Ready", status: ready, lastTransitionTime: ago(transitionAgo) }],
    },
  };
}

/** A metrics.k8s.io answer: per pod, per container usage. */
export function podMetrics(
  pods: Record<string, Record<string, RawQuantity>[]>,
  timestamp = ago(10),
  window = "30s",
): PodMetricsList {
  return {
    items: Object.entries(pods).map(([name, containers]) => ({
      metadata: { name },
      timestamp,
      window,
      containers: containers.map((usage, i) => ({ name: `c${i}`, usage })),
    })),
  };
}

/** A custom.metrics.k8s.io answer describing the named objects. */
export function metricValues(
  values: Record<string, RawQuantity>,
  kind = "Pod",
  timestamp = ago(10),
  windowSeconds: number | null = null,
): MetricValueList {
  return {
    items: Object.entries(values).map(([name, value]) => ({
      describedObject: { kind, name, apiVersion: "/v1" },
      timestamp,
      ...(windowSeconds === null ? {} : { windowSeconds }),
      value,
    })),
  };
}

/** An external.metrics.k8s.io answer: one series per value. */
export function externalValues(values: RawQuantity[], timestamp = ago(10)): ExternalMetricValueList {
  return { items: values.map((value) => ({ metricName: "queue", timestamp, value })) };
}
