// The I/O edge: reads the metrics APIs and the target's pods for each spec in
// kubernetesMetricSpecs, and hands the answers to the pure builders. One
// failing spec does not stop the others; the caller decides what a failure
// means (requireKubernetesMetrics).
import { UnresolvedKindError, type ResolvedResource } from "../../kube/discovery.ts";
import { KubeApiError, type CallOptions, type Query } from "../../kube/http.ts";
import { externalMetric, objectMetric, podsMetric, resourceMetric } from "./build.ts";
import {
  CUSTOM_METRICS_API,
  EXTERNAL_METRICS_API,
  KubernetesMetricError,
  metricsApiError,
  podListError,
  RESOURCE_METRICS_API,
  type MetricsApi,
} from "./errors.ts";
import { fromMillis } from "./go-time.ts";
import type { ReadinessWindows } from "./pod-grouping.ts";
import { describeSpec, parseMetricSpec, type ObjectSpec, type ParsedSpec } from "./spec.ts";
import type {
  ExternalMetric,
  ExternalMetricValueList,
  KubernetesMetric,
  MetricSpec,
  MetricValueList,
  ObjectMetric,
  Pod,
  PodMetricsList,
  PodsMetric,
  ResourceMetric,
} from "./types.ts";

/** What we need of KubeHttp (it satisfies this); tests pass a fake. */
export interface MetricsHttp {
  request<T>(method: string, path: string, options?: CallOptions): Promise<T>;
}

/** What we need of Discovery (it satisfies this). */
export interface KindResolver {
  resolve(apiVersion: string | undefined, kind: string): Promise<ResolvedResource>;
}

export interface GatherOptions {
  /** config.kubernetesMetricSpecs. */
  specs: readonly MetricSpec[];
  http: MetricsHttp;
  discovery: KindResolver;
  namespace: string;
  /** spec.replicas of the target's /scale: reported as current_replicas. */
  current: number;
  /** status.selector of the target's /scale ("" selects every pod in the namespace, as the original). */
  selector: string;
  cpuInitializationPeriodSeconds: number;
  initialReadinessDelaySeconds: number;
  /** Clock reading in milliseconds: decides which CPU samples are too close to a pod's start. */
  now: number;
  /** Per request; default 30 s, so a hung metrics adapter cannot stall the run. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface GatherFailure {
  spec: MetricSpec;
  error: KubernetesMetricError;
}

export interface GatherResult {
  /** One per spec that could be gathered, in the order of the specs. */
  metrics: KubernetesMetric[];
  /** One per spec that could not, in the order of the specs. */
  failures: GatherFailure[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The custom metrics API versions whose answers we can read (the fields we use are the same in both). */
const CUSTOM_METRICS_VERSIONS = ["v1beta2", "v1beta1"];

type MetricPart =
  | { resource: ResourceMetric }
  | { pods: PodsMetric }
  | { object: ObjectMetric }
  | { external: ExternalMetric };

/** Gathers every spec (concurrently; the pod list and pod metrics are read once and shared). */
export async function gatherKubernetesMetrics(opts: GatherOptions): Promise<GatherResult> {
  const reader = new MetricsReader(opts);
  const outcomes = await Promise.all(
    opts.specs.map(async (spec) => {
      try {
        const part = await gatherOne(parseMetricSpec(spec), reader);
        const metric: KubernetesMetric = {
          current_replicas: opts.current,
          spec: structuredClone(spec),
          ...part,
        };
        return { metric };
      } catch (err) {
        return { failure: { spec, error: asMetricError(err).about(describeSpec(spec)) } };
      }
    }),
  );
  const result: GatherResult = { metrics: [], failures: [] };
  for (const o of outcomes) {
    if ("metric" in o) result.metrics.push(o.metric);
    else result.failures.push(o.failure);
  }
  return result;
}

async function gatherOne(spec: ParsedSpec, reader: MetricsReader): Promise<MetricPart> {
  switch (spec.type) {
    case "Resource": {
      const podMetrics = await reader.podMetrics();
      const pods = await reader.pods();
      const windows = reader.windows;
      return {
        resource: resourceMetric({ resource: spec.resource, target: spec.target, podMetrics, pods, windows }),
      };
    }
    case "Pods": {
      const list = await reader.podsCustomMetric(spec.metric, spec.metricSelector);
      return { pods: podsMetric(list, await reader.pods()) };
    }
    case "Object": {
      const list = await reader.objectCustomMetric(spec);
      // Only a Value target reports ready pods; AverageValue does not read them.
      const pods = spec.target === "Value" ? await reader.pods() : [];
      return { object: objectMetric(list, spec.target, pods) };
    }
    case "External": {
      const list = await reader.externalMetric(spec.metric, spec.metricSelector);
      const pods = spec.target === "Value" ? await reader.pods() : [];
      return { external: externalMetric(list, spec.target, pods) };
    }
  }
}

interface ApiGroup {
  versions?: { version?: string }[];
  preferredVersion?: { version?: string };
}

/** Reads for one run; the pod list, the pod metrics and the custom metrics version are fetched once. */
class MetricsReader {
  readonly windows: ReadinessWindows;
  readonly #opts: GatherOptions;
  #pods: Promise<Pod[]> | undefined;
  #podMetrics: Promise<PodMetricsList> | undefined;
  #customVersion: Promise<string> | undefined;

  constructor(opts: GatherOptions) {
    this.#opts = opts;
    this.windows = {
      now: fromMillis(opts.now),
      cpuInitializationPeriodSeconds: opts.cpuInitializationPeriodSeconds,
      initialReadinessDelaySeconds: opts.initialReadinessDelaySeconds,
    };
  }

  get #ns(): string {
    return encodeURIComponent(this.#opts.namespace);
  }

  get #selector(): string | undefined {
    return this.#opts.selector || undefined;
  }

  pods(): Promise<Pod[]> {
    this.#pods ??= this.#request<{ items?: Pod[] }>(`/api/v1/namespaces/${this.#ns}/pods`, {
      labelSelector: this.#selector,
    }).then(
      (list) => list.items ?? [],
      (err: unknown) => {
        throw err instanceof KubeApiError ? podListError(this.#opts.namespace, failureOf(err), err) : err;
      },
    );
    return this.#pods;
  }

  podMetrics(): Promise<PodMetricsList> {
    this.#podMetrics ??= this.#get<PodMetricsList>(
      RESOURCE_METRICS_API,
      `/apis/metrics.k8s.io/v1beta1/namespaces/${this.#ns}/pods`,
      { labelSelector: this.#selector },
    );
    return this.#podMetrics;
  }

  async podsCustomMetric(metric: string, metricSelector: string): Promise<MetricValueList> {
    const version = await this.#customMetricsVersion();
    return this.#get<MetricValueList>(
      CUSTOM_METRICS_API,
      `/apis/custom.metrics.k8s.io/${version}/namespaces/${this.#ns}/pods/*/${encodeURIComponent(metric)}`,
      { labelSelector: this.#selector, metricLabelSelector: metricSelector || undefined },
    );
  }

  async objectCustomMetric(spec: ObjectSpec): Promise<MetricValueList> {
    const version = await this.#customMetricsVersion();
    const object = await this.#objectPath(spec);
    return this.#get<MetricValueList>(
      CUSTOM_METRICS_API,
      `/apis/custom.metrics.k8s.io/${version}/${object}/${encodeURIComponent(spec.metric)}`,
      { metricLabelSelector: spec.metricSelector || undefined },
    );
  }

  externalMetric(metric: string, metricSelector: string): Promise<ExternalMetricValueList> {
    return this.#get<ExternalMetricValueList>(
      EXTERNAL_METRICS_API,
      `/apis/external.metrics.k8s.io/v1beta1/namespaces/${this.#ns}/${encodeURIComponent(metric)}`,
      { labelSelector: metricSelector || undefined },
    );
  }

  /**
   * Where the custom metrics API keeps the object's metrics. The resource comes
   * from discovery (never a pluralised kind) and is group-qualified
   * ("deployments.apps"), as the API expects. A Namespace has its own path.
   */
  async #objectPath(spec: ObjectSpec): Promise<string> {
    const { apiVersion, kind, name } = spec.describedObject;
    if (kind === "Namespace" && !apiVersion.includes("/")) return `namespaces/${this.#ns}/metrics`;
    let resolved: ResolvedResource;
    try {
      resolved = await this.#opts.discovery.resolve(apiVersion || undefined, kind);
    } catch (err) {
      throw unresolved(kind, err);
    }
    const resource = resolved.group ? `${resolved.resource}.${resolved.group}` : resolved.resource;
    const object = `${resource}/${encodeURIComponent(name)}`;
    return resolved.namespaced ? `namespaces/${this.#ns}/${object}` : object;
  }

  /** The served version we can read, preferring the server's preferred one. */
  #customMetricsVersion(): Promise<string> {
    this.#customVersion ??= this.#request<ApiGroup>("/apis/custom.metrics.k8s.io", {}).then(
      (group) => {
        const offered = [group.preferredVersion?.version, ...(group.versions ?? []).map((v) => v.version)];
        const version = offered.find(
          (v): v is string => v !== undefined && CUSTOM_METRICS_VERSIONS.includes(v),
        );
        if (version) return version;
        throw new KubernetesMetricError(
          "MetricsApiUnavailable",
          `the custom metrics API (custom.metrics.k8s.io) serves ${offered.filter(Boolean).join(", ") || "no versions"}, ` +
            `none of which this autoscaler reads (${CUSTOM_METRICS_VERSIONS.join(", ")})`,
        );
      },
      (err: unknown) => {
        if (!(err instanceof KubeApiError)) throw err;
        throw metricsApiError(CUSTOM_METRICS_API, { ...failureOf(err), groupServed: false }, err);
      },
    );
    return this.#customVersion;
  }

  /** A GET whose failure is explained in terms of the metrics API it went to. */
  async #get<T>(api: MetricsApi, path: string, query: Query): Promise<T> {
    try {
      return await this.#request<T>(path, query);
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      const failure = failureOf(err);
      // A 404 means "no such metric" from an installed API, "not installed" otherwise: ask discovery which.
      const groupServed = err.status === 404 ? await this.#isServed(api) : undefined;
      throw metricsApiError(api, groupServed === undefined ? failure : { ...failure, groupServed }, err);
    }
  }

  async #isServed(api: MetricsApi): Promise<boolean | undefined> {
    if (api === CUSTOM_METRICS_API && this.#customVersion) return true;
    try {
      await this.#request(`/apis/${api.group}`, {});
      return true;
    } catch (err) {
      return err instanceof KubeApiError && err.status === 404 ? false : undefined;
    }
  }

  #request<T>(path: string, query: Query): Promise<T> {
    const { signal, timeoutMs = DEFAULT_TIMEOUT_MS } = this.#opts;
    return this.#opts.http.request<T>("GET", path, { query, timeoutMs, ...(signal ? { signal } : {}) });
  }
}

function failureOf(err: KubeApiError): { status: number; message: string } {
  const cause: unknown = err.cause;
  const message = err.apiStatus?.message ?? (cause instanceof Error ? cause.message : err.message);
  return { status: err.status, message };
}

function unresolved(kind: string, err: unknown): KubernetesMetricError {
  if (err instanceof UnresolvedKindError) {
    return new KubernetesMetricError("UnresolvedObject", `describedObject: ${err.message}`, { cause: err });
  }
  const message = err instanceof KubeApiError ? failureOf(err).message : String(err);
  return new KubernetesMetricError(
    "UnresolvedObject",
    `describedObject: could not look up kind ${kind} through API discovery: ${message}`,
    { cause: err },
  );
}

function asMetricError(err: unknown): KubernetesMetricError {
  if (err instanceof KubernetesMetricError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new KubernetesMetricError("MetricsApiFailed", message, { cause: err });
}
