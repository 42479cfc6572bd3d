// Why gathering one Kubernetes metric failed: a stable code for programs, a
// message that names the spec and says what to do for people.

export type KubernetesMetricErrorCode =
  /** The spec cannot be gathered as written (unknown type, bad target, bad selector...). */
  | "InvalidMetricSpec"
  /** The metrics API group is not installed, or its backend is down (404 / 503). */
  | "MetricsApiUnavailable"
  /** RBAC refused the read (403). */
  | "MetricsApiForbidden"
  /** The API answered 404 for this metric or object although the API itself is served. */
  | "MetricNotFound"
  /** Any other failed request. */
  | "MetricsApiFailed"
  /** The API answered with no values at all. */
  | "NoMetrics"
  /** The answer could not be read (a bad quantity, not exactly one object value...). */
  | "BadMetricsResponse"
  /** The target's selector picked no pods (Resource metrics need some). */
  | "NoPods"
  /** Listing the target's pods failed. */
  | "PodListFailed"
  /** A Utilization target and a container without a request for the resource. */
  | "MissingRequest"
  /** The Object metric's describedObject kind could not be resolved through discovery. */
  | "UnresolvedObject";

export class KubernetesMetricError extends Error {
  override readonly name = "KubernetesMetricError";
  readonly code: KubernetesMetricErrorCode;
  constructor(code: KubernetesMetricErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The same error with a prefix naming the spec it is about. */
  about(label: string): KubernetesMetricError {
    return new KubernetesMetricError(this.code, `${label}: ${this.message}`, { cause: this.cause ?? this });
  }
}

/** One of the three metrics APIs, and what to check when it is missing. */
export interface MetricsApi {
  group: string;
  title: string;
  /** What to install when the API is not served. */
  provider: string;
}

export const RESOURCE_METRICS_API: MetricsApi = {
  group: "metrics.k8s.io",
  title: "the metrics API",
  provider: "is metrics-server installed?",
};
export const CUSTOM_METRICS_API: MetricsApi = {
  group: "custom.metrics.k8s.io",
  title: "the custom metrics API",
  provider: "is a custom metrics adapter (such as prometheus-adapter) installed?",
};
export const EXTERNAL_METRICS_API: MetricsApi = {
  group: "external.metrics.k8s.io",
  title: "the external metrics API",
  provider: "is an external metrics adapter (such as KEDA or prometheus-adapter) installed?",
};

/** A failed request to a metrics API, as the I/O edge saw it. */
export interface ApiFailure {
  /** HTTP status; 0 when the API server did not answer. */
  status: number;
  /** The API server's message, or the transport error's. */
  message: string;
  /** Whether the API group is served (known only for some 404s). */
  groupServed?: boolean;
}

/** Turns a failed request into an error that says what to do. */
export function metricsApiError(
  api: MetricsApi,
  failure: ApiFailure,
  cause?: unknown,
): KubernetesMetricError {
  const { status, message } = failure;
  const name = `${api.title} (${api.group})`;
  const options = { cause };
  if (status === 503 || (status === 404 && failure.groupServed !== true)) {
    return new KubernetesMetricError(
      "MetricsApiUnavailable",
      `${name} is not available: ${api.provider} (HTTP ${status}: ${message})`,
      options,
    );
  }
  if (status === 404) {
    return new KubernetesMetricError(
      "MetricNotFound",
      `${name} has no such metric: ${message} (check the metric name and that the adapter exposes it)`,
      options,
    );
  }
  if (status === 403) {
    return new KubernetesMetricError(
      "MetricsApiForbidden",
      `not allowed to read ${name}: set roleRequiresMetricsServer: true on the CustomPodAutoscaler, ` +
        `or grant the autoscaler's service account get and list on ${api.group} (${message})`,
      options,
    );
  }
  if (status === 0) {
    return new KubernetesMetricError(
      "MetricsApiFailed",
      `could not reach the API server for ${name}: ${message}`,
      options,
    );
  }
  return new KubernetesMetricError(
    "MetricsApiFailed",
    `${name} answered HTTP ${status}: ${message}`,
    options,
  );
}

/** Listing the target's pods failed. */
export function podListError(namespace: string, failure: ApiFailure, cause?: unknown): KubernetesMetricError {
  const hint =
    failure.status === 403
      ? ": the autoscaler's Role needs get and list on pods"
      : ` (HTTP ${failure.status})`;
  return new KubernetesMetricError(
    "PodListFailed",
    `could not list the target's pods in namespace ${namespace}: ${failure.message}${hint}`,
    { cause },
  );
}
