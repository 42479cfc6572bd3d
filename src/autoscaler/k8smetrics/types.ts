// The JSON the metric stage receives in kubernetesMetrics[], key for key what
// the original runtime produced (k8shorizmetrics v2 models serialised by Go's
// encoding/json), and the raw shapes of the Kubernetes metrics APIs we read.
//
// Every number is in milli-units (Go's Quantity.MilliValue), except Window,
// which is a Go time.Duration: integer nanoseconds. Times are RFC 3339 in UTC
// with Go's trimmed fraction ("2021-04-05T18:10:10Z", "…:10.5Z").

/** One pod's sample. Capitalised keys: the Go struct had no json tags. */
export interface PodMetric {
  /** When the sample was taken (RFC 3339). */
  Timestamp: string;
  /** The window the sample covers, in nanoseconds (a Go time.Duration). */
  Window: number;
  /** The value in milli-units: 250m of CPU is 250, 128Mi of memory is 134217728000. */
  Value: number;
}

/** Pod name → sample; keys sorted, as Go marshals maps. */
export type PodMetricsInfo = Record<string, PodMetric>;

/** A set of pod names as Go's sets.String marshals it: {"pod-a": {}}. */
export type PodNameSet = Record<string, Record<string, never>>;

/** A Resource metric (cpu, memory...) from metrics.k8s.io. */
export interface ResourceMetric {
  /** Samples of the pods that count: ignored pods are removed, missing ones never had one. */
  pod_metrics_info: PodMetricsInfo;
  /** Per pod, the sum of its containers' requests (milli-units); null for AverageValue targets. */
  requests: Record<string, number> | null;
  ready_pod_count: number;
  ignored_pods: PodNameSet;
  missing_pods: PodNameSet;
  /** Every pod the selector picked, whatever its state. */
  total_pods: number;
  /** The first sample's timestamp. */
  timestamp: string;
}

/** A Pods metric from custom.metrics.k8s.io. */
export interface PodsMetric {
  /** null when the selector picked no pods. */
  pod_metrics_info: PodMetricsInfo | null;
  ready_pod_count: number;
  /** Always null: the original never ignored pods for Pods metrics. */
  ignored_pods: null;
  /** null when the selector picked no pods. */
  missing_pods: PodNameSet | null;
  total_pods: number;
  timestamp: string;
}

/** A Value or an AverageValue; exactly one is present. */
export interface MetricValue {
  value?: number;
  average_value?: number;
}

/** An Object metric (custom.metrics.k8s.io) or an External metric (external.metrics.k8s.io). */
export interface ValueMetric {
  current: MetricValue;
  /** Pods that are Running and Ready; only for Value targets. */
  ready_pod_count?: number;
  timestamp: string;
}

export type ObjectMetric = ValueMetric;
export type ExternalMetric = ValueMetric;

/** The spec as configured in kubernetesMetricSpecs (an autoscaling/v2 MetricSpec). */
export type MetricSpec = Record<string, unknown>;

interface KubernetesMetricBase {
  /** Replicas in the target's /scale when the run started. */
  current_replicas: number;
  spec: MetricSpec;
}

/** One entry of kubernetesMetrics[]: the spec and what was gathered for it. */
export type KubernetesMetric = KubernetesMetricBase &
  (
    | { resource: ResourceMetric }
    | { pods: PodsMetric }
    | { object: ObjectMetric }
    | { external: ExternalMetric }
  );

// ---- Raw API shapes: only the fields we read, all optional (we validate as we go). ----

export type RawQuantity = string | number;

/** A Pod as /api/v1 returns it. */
export interface Pod {
  metadata?: { name?: string; deletionTimestamp?: string | null };
  spec?: { containers?: { name?: string; resources?: { requests?: Record<string, RawQuantity> } }[] };
  status?: {
    phase?: string;
    startTime?: string | null;
    conditions?: { type?: string; status?: string; lastTransitionTime?: string | null }[] | null;
  };
}

/** metrics.k8s.io/v1beta1 PodMetricsList. */
export interface PodMetricsList {
  items?: {
    metadata?: { name?: string };
    timestamp?: string;
    /** A Go duration string, e.g. "15s" or "10.5s". */
    window?: string;
    containers?: { name?: string; usage?: Record<string, RawQuantity> }[];
  }[];
}

/** custom.metrics.k8s.io MetricValueList (v1beta2 and v1beta1 agree on every field we read). */
export interface MetricValueList {
  items?: {
    describedObject?: { kind?: string; name?: string; namespace?: string; apiVersion?: string };
    timestamp?: string;
    windowSeconds?: number | null;
    value?: RawQuantity;
  }[];
}

/** external.metrics.k8s.io/v1beta1 ExternalMetricValueList. */
export interface ExternalMetricValueList {
  items?: {
    metricName?: string;
    timestamp?: string;
    windowSeconds?: number | null;
    value?: RawQuantity;
  }[];
}
