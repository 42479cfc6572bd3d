// What each stage receives and returns: the JSON the original runtime pipes to
// user scripts (key names exactly as it spells them), and the signatures of
// in-process module functions that take the same input as an object.

import type { KubernetesMetric } from "./k8smetrics/types.ts";

export type {
  ExternalMetric,
  KubernetesMetric,
  ObjectMetric,
  PodMetric,
  PodsMetric,
  ResourceMetric,
} from "./k8smetrics/types.ts";

/** Why this run happened. */
export type RunType = "scaler" | "api" | "api_dry_run";

/** A Kubernetes object as the API returned it (the target, or a Pod in per-pod mode). */
export type Resource = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
};

/** Input of the metric stage (and of preMetric, which gets the target even in per-pod mode). */
export interface MetricInput {
  /** The target, or in per-pod mode the one Pod this call is about. */
  resource: Resource;
  runType: RunType;
  /** Present when kubernetesMetricSpecs is configured: HPA-style results, numbers in milli-units. */
  kubernetesMetrics?: KubernetesMetric[];
  /** Beyond the original, with state.enabled in config.yaml: what evaluate last returned as state (null at first). */
  state?: unknown;
}

/** One metric: the output of one metric-stage call. */
export interface Metric {
  /** Name of the target (per-resource) or of the Pod (per-pod). */
  resource: string;
  /** The stage's raw output; omitted when it printed nothing. */
  value?: string;
}

/** Input of the postMetric hook: the metric input for the target, plus every metric gathered. */
export type PostMetricInput = MetricInput & {
  /** What the evaluate stage will get; null in per-pod mode when the selector matched no pods. */
  metrics: Metric[] | null;
};

/** Input of the evaluate stage and its pre hook. Kubernetes metrics are not forwarded. */
export interface EvaluateInput {
  /** null in per-pod mode when the selector matched no pods. */
  metrics: Metric[] | null;
  /** The target. */
  resource: Resource;
  runType: RunType;
  /** Beyond the original, with state.enabled in config.yaml: what evaluate last returned as state (null at first). */
  state?: unknown;
}

/** What the evaluate stage must print (as JSON) or return. */
export interface Evaluation {
  /** Desired replicas before clamping to [minReplicas, maxReplicas]. */
  targetReplicas: number;
  /**
   * Beyond the original: on a scale-down, the target's Pods to remove first, in
   * order. They get a low controller.kubernetes.io/pod-deletion-cost before
   * /scale is written (needs roleRequiresPodDeletionCost on the CPA); the
   * ReplicaSet controller decides, so this is best effort.
   */
  podsToRemove?: string[];
  /**
   * Beyond the original, with state.enabled in config.yaml: the state the next
   * runs get, kept in the CPA's status across autoscaler Pods (any JSON value
   * of at most state.maxBytes; null clears it). Left out, the state stays.
   */
  state?: unknown;
}

/** Input of the postEvaluate hook. */
export type PostEvaluateInput = EvaluateInput & {
  /** What the evaluate stage returned. */
  evaluation: Evaluation;
};

/** Input of the preScale and postScale hooks. */
export interface ScaleHookInput {
  /** The final decision, after clamping and stabilisation. */
  evaluation: Evaluation;
  /** The target. */
  resource: Resource;
  scaleTargetRef: { kind: string; name: string; apiVersion?: string };
  namespace: string;
  minReplicas: number;
  maxReplicas: number;
  /** What the evaluate stage asked for, before the decision (0 for API-driven runs in the original). */
  targetReplicas: number;
  /** Replicas in /scale when the run started; the original documented it but never sent it. */
  currentReplicas: number;
  runType: RunType;
}

/** The second argument of every module function. */
export interface StageOptions {
  /** Aborted at the stage's timeout or on shutdown: in-process code cannot be killed, so honour it. */
  signal: AbortSignal;
}

/**
 * A metric function: its result becomes the metric's value. A string is used as it is; a number
 * is sent as its JSON text.
 */
export type MetricFunction = (
  input: MetricInput,
  options: StageOptions,
) => string | number | Promise<string | number>;

/** An evaluate function: returns the replicas it asks for (before clamping and stabilisation). */
export type EvaluateFunction = (
  input: EvaluateInput,
  options: StageOptions,
) => Evaluation | Promise<Evaluation>;

/**
 * A hook: its result is ignored. Its input: MetricInput (preMetric), PostMetricInput
 * (postMetric), EvaluateInput (preEvaluate), PostEvaluateInput (postEvaluate), ScaleHookInput
 * (preScale, postScale).
 */
export type HookFunction<I> = (input: I, options: StageOptions) => void | Promise<void>;
