// Pure builders: raw metrics API answers plus the target's pods in, the
// original's result objects out. Nothing here does I/O or reads the clock.
import { KubernetesMetricError } from "./errors.ts";
import { formatTime, parseDuration, parseTime } from "./go-time.ts";
import {
  countReadyPods,
  groupPods,
  podRequests,
  quantityOf,
  type ReadinessWindows,
  type Sample,
} from "./pod-grouping.ts";
import type { ResourceTarget, ValueTarget } from "./spec.ts";
import type {
  ExternalMetric,
  ExternalMetricValueList,
  MetricValue,
  MetricValueList,
  ObjectMetric,
  Pod,
  PodMetricsInfo,
  PodMetricsList,
  PodNameSet,
  PodsMetric,
  ResourceMetric,
  ValueMetric,
} from "./types.ts";

/** The window custom metrics are assumed to cover when the adapter does not say (as the HPA assumes). */
const DEFAULT_CUSTOM_METRIC_WINDOW = 60_000_000_000;

export interface ResourceMetricInput {
  /** cpu, memory... */
  resource: string;
  target: ResourceTarget;
  /** The metrics.k8s.io answer for the target's selector. */
  podMetrics: PodMetricsList;
  /** The target's pods. */
  pods: readonly Pod[];
  windows: ReadinessWindows;
}

/** A Resource metric; requests are only gathered (and required) for Utilization targets. */
export function resourceMetric(input: ResourceMetricInput): ResourceMetric {
  const { resource, pods } = input;
  const { samples, timestamp } = resourceSamples(input.podMetrics, resource);
  if (pods.length === 0) {
    throw new KubernetesMetricError("NoPods", "the target's selector matches no pods");
  }
  const groups = groupPods(pods, samples, resource, input.windows);
  for (const name of groups.ignored) samples.delete(name);
  return {
    pod_metrics_info: podMetricsInfo(samples),
    requests: input.target === "Utilization" ? sortedRecord(podRequests(pods, resource)) : null,
    ready_pod_count: groups.ready,
    ignored_pods: nameSet(groups.ignored),
    missing_pods: nameSet(groups.missing),
    total_pods: pods.length,
    timestamp: formatTime(timestamp),
  };
}

/**
 * Per pod, the sum of its containers' usage. A pod with no containers, or with a
 * container that does not report the resource, has no sample (it will be missing).
 */
export function resourceSamples(
  list: PodMetricsList,
  resource: string,
): { samples: Map<string, Sample>; timestamp: bigint } {
  const items = list.items ?? [];
  const first = items[0];
  if (!first) throw noMetrics("the metrics API");
  const samples = new Map<string, Sample>();
  for (const item of items) {
    const name = item.metadata?.name ?? "";
    const containers = item.containers ?? [];
    const usages = containers.map((c) => c.usage?.[resource]);
    if (containers.length === 0 || usages.includes(undefined)) continue;
    const value = usages.reduce<number>(
      (sum, u) => sum + quantityOf(u, `${resource} usage of pod ${name}`),
      0,
    );
    samples.set(name, { timestamp: time(item.timestamp, name), window: windowOf(item.window, name), value });
  }
  return { samples, timestamp: time(first.timestamp, first.metadata?.name ?? "") };
}

/** A Pods metric: every pod's sample is kept; pods are only counted, never ignored. */
export function podsMetric(list: MetricValueList, pods: readonly Pod[]): PodsMetric {
  const { samples, timestamp } = customSamples(list);
  if (pods.length === 0) {
    return {
      pod_metrics_info: null,
      ready_pod_count: 0,
      ignored_pods: null,
      missing_pods: null,
      total_pods: 0,
      timestamp: formatTime(timestamp),
    };
  }
  const groups = groupPods(pods, samples, "", {
    now: 0n,
    cpuInitializationPeriodSeconds: 0,
    initialReadinessDelaySeconds: 0,
  });
  return {
    pod_metrics_info: podMetricsInfo(samples),
    ready_pod_count: groups.ready,
    ignored_pods: null,
    missing_pods: nameSet(groups.missing),
    total_pods: pods.length,
    timestamp: formatTime(timestamp),
  };
}

/** Samples of a custom metric listed for pods, keyed by the pod each describes. */
export function customSamples(list: MetricValueList): { samples: Map<string, Sample>; timestamp: bigint } {
  const items = list.items ?? [];
  const first = items[0];
  if (!first) throw noMetrics("the custom metrics API");
  const samples = new Map<string, Sample>();
  for (const item of items) {
    const name = item.describedObject?.name ?? "";
    const seconds = item.windowSeconds;
    samples.set(name, {
      timestamp: time(item.timestamp, name),
      window:
        seconds === undefined || seconds === null ? DEFAULT_CUSTOM_METRIC_WINDOW : seconds * 1_000_000_000,
      value: quantityOf(item.value, `the value for ${name}`),
    });
  }
  return { samples, timestamp: time(first.timestamp, first.describedObject?.name ?? "") };
}

/**
 * An Object metric: the one value the API has for the object. For a Value
 * target it comes with the count of ready pods; pods are not read otherwise.
 */
export function objectMetric(list: MetricValueList, target: ValueTarget, pods: readonly Pod[]): ObjectMetric {
  const items = list.items ?? [];
  const [item] = items;
  if (!item || items.length !== 1) {
    throw new KubernetesMetricError(
      "BadMetricsResponse",
      `the custom metrics API returned ${items.length} values for the object where it should return exactly one`,
    );
  }
  const what = item.describedObject?.name ?? "the object";
  return valueMetric(
    quantityOf(item.value, `the value for ${what}`),
    time(item.timestamp, what),
    target,
    pods,
  );
}

/**
 * An External metric: the sum of every series the selector picks. For an
 * AverageValue target the sum is still reported (as average_value); dividing
 * by the replicas is the evaluator's business, as in the original.
 */
export function externalMetric(
  list: ExternalMetricValueList,
  target: ValueTarget,
  pods: readonly Pod[],
): ExternalMetric {
  const items = list.items ?? [];
  const first = items[0];
  if (!first) throw noMetrics("the external metrics API");
  const sum = items.reduce(
    (total, item) => total + quantityOf(item.value, `the value of ${item.metricName ?? "the metric"}`),
    0,
  );
  return valueMetric(sum, time(first.timestamp, first.metricName ?? "the metric"), target, pods);
}

function valueMetric(
  value: number,
  timestamp: bigint,
  target: ValueTarget,
  pods: readonly Pod[],
): ValueMetric {
  const current: MetricValue = target === "Value" ? { value } : { average_value: value };
  return target === "Value"
    ? { current, ready_pod_count: countReadyPods(pods), timestamp: formatTime(timestamp) }
    : { current, timestamp: formatTime(timestamp) };
}

/** Samples as the original serialised them: capitalised keys, Window in nanoseconds, pods sorted. */
export function podMetricsInfo(samples: ReadonlyMap<string, Sample>): PodMetricsInfo {
  return sortedRecord(
    [...samples].map(([name, s]) => [
      name,
      { Timestamp: formatTime(s.timestamp), Window: s.window, Value: s.value },
    ]),
  );
}

/** A set of names as Go's sets.String marshals: {"name": {}}, sorted. */
export function nameSet(names: Iterable<string>): PodNameSet {
  return sortedRecord([...names].map((name) => [name, {}]));
}

/** An object whose keys are in Go's map order (sorted), so the JSON text matches too. */
function sortedRecord<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function time(text: string | undefined, what: string): bigint {
  const parsed = parseTime(text);
  if (parsed === undefined) {
    throw new KubernetesMetricError(
      "BadMetricsResponse",
      `the timestamp of ${what} is not RFC 3339: "${text ?? ""}"`,
    );
  }
  return parsed;
}

function windowOf(text: string | undefined, what: string): number {
  const parsed = text === undefined || text === "" ? 0 : parseDuration(text);
  if (parsed === undefined) {
    throw new KubernetesMetricError(
      "BadMetricsResponse",
      `the window of ${what} is not a duration: "${text ?? ""}"`,
    );
  }
  return parsed;
}

function noMetrics(api: string): KubernetesMetricError {
  return new KubernetesMetricError(
    "NoMetrics",
    `${api} returned no values (the metric may not exist yet for these pods, or the selector matches nothing)`,
  );
}
