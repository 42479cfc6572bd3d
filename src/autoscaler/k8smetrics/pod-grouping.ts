// Which of the target's pods count, following the HPA's replica calculator as
// the original carried it over: deleted and failed pods are skipped, pending
// pods ignored, pods without a sample missing, and for CPU, samples taken
// while a pod was starting up are ignored too (CPU spikes at start-up would
// otherwise scale the target up for nothing).
import { KubernetesMetricError } from "./errors.ts";
import { parseTime, ZERO_TIME } from "./go-time.ts";
import { milliValue, QuantityError } from "./quantity.ts";
import type { Pod } from "./types.ts";

/** One pod's sample, times in nanoseconds. */
export interface Sample {
  timestamp: bigint;
  window: number;
  /** Milli-units. */
  value: number;
}

export interface ReadinessWindows {
  /** Nanoseconds since the epoch. */
  now: bigint;
  cpuInitializationPeriodSeconds: number;
  initialReadinessDelaySeconds: number;
}

export interface PodGroups {
  ready: number;
  ignored: Set<string>;
  missing: Set<string>;
}

const SECOND = 1_000_000_000n;

export const podName = (pod: Pod): string => pod.metadata?.name ?? "";

/** Sorts the pods into ready (counted), ignored and missing, as the HPA does. */
export function groupPods(
  pods: readonly Pod[],
  samples: ReadonlyMap<string, Sample>,
  resource: string,
  windows: ReadinessWindows,
): PodGroups {
  const groups: PodGroups = { ready: 0, ignored: new Set(), missing: new Set() };
  for (const pod of pods) {
    const name = podName(pod);
    if (isDeleted(pod) || pod.status?.phase === "Failed") continue;
    const sample = samples.get(name);
    if (pod.status?.phase === "Pending") groups.ignored.add(name);
    else if (!sample) groups.missing.add(name);
    else if (resource === "cpu" && isCpuSampleUnreliable(pod, sample, windows)) groups.ignored.add(name);
    else groups.ready++;
  }
  return groups;
}

/**
 * A CPU sample is not trusted while the pod may still be initialising (within
 * cpuInitializationPeriod of its start) if the pod is unready or the sample's
 * window began before the pod's last readiness change; after that period, only
 * if the pod is unready and has never been ready (its readiness last changed
 * within initialReadinessDelay of its start). No Ready condition or no start
 * time: not trusted.
 */
export function isCpuSampleUnreliable(pod: Pod, sample: Sample, windows: ReadinessWindows): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  const startTime = pod.status?.startTime;
  const started = startTime ? parseTime(startTime) : undefined;
  if (!ready || started === undefined) return true;
  const transition = parseTime(ready.lastTransitionTime) ?? ZERO_TIME;
  const unready = ready.status === "False";
  if (started + BigInt(windows.cpuInitializationPeriodSeconds) * SECOND > windows.now) {
    return unready || sample.timestamp < transition + BigInt(sample.window);
  }
  return unready && started + BigInt(windows.initialReadinessDelaySeconds) * SECOND > transition;
}

/** Pods that are Running with Ready true: what Object and External Value metrics report. */
export function countReadyPods(pods: readonly Pod[]): number {
  return pods.filter(
    (pod) =>
      pod.status?.phase === "Running" &&
      pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
  ).length;
}

/**
 * Per pod, the sum of its containers' requests for the resource, in milli-units.
 * Every container of every pod needs one: a utilisation has no meaning without.
 */
export function podRequests(pods: readonly Pod[], resource: string): Map<string, number> {
  const requests = new Map<string, number>();
  for (const pod of pods) {
    let sum = 0;
    for (const container of pod.spec?.containers ?? []) {
      const request = container.resources?.requests?.[resource];
      if (request === undefined) {
        throw new KubernetesMetricError(
          "MissingRequest",
          `container ${container.name ?? "?"} of pod ${podName(pod)} has no ${resource} request: ` +
            `a Utilization target needs resources.requests.${resource} on every container (or use an AverageValue target)`,
        );
      }
      sum += quantityOf(request, `the ${resource} request of pod ${podName(pod)}`);
    }
    requests.set(podName(pod), sum);
  }
  return requests;
}

/** milliValue, failing with a KubernetesMetricError that says where the quantity came from. */
export function quantityOf(quantity: unknown, what: string): number {
  try {
    return milliValue(quantity);
  } catch (err) {
    if (err instanceof QuantityError) {
      throw new KubernetesMetricError("BadMetricsResponse", `${what}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function isDeleted(pod: Pod): boolean {
  const deletion = pod.metadata?.deletionTimestamp;
  return deletion !== undefined && deletion !== null;
}
