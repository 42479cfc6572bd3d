// The autoscaler runtime's configuration (config.yaml plus env overrides): the
// original's keys and defaults, and our additions. One definition gives the ajv
// validator, the defaults and the TypeScript types.
import { HISTORY_LIMITS, scaleTargetRefSchema } from "./custom-pod-autoscaler.ts";
import {
  anyObject,
  array,
  boolean,
  integer,
  literal,
  object,
  record,
  string,
  union,
  type Static,
} from "./schema.ts";

export const shellSchema = union(
  object(
    {
      entrypoint: string({
        minLength: 1,
        description: "The program to run, e.g. python (no shell is implied).",
      }),
      command: array(string(), { description: "Its arguments, e.g. [/metric.py]." }),
      logStderr: boolean({
        description:
          "Log the stderr of successful runs too. Where the original reads it; the method-level logStderr is also read, and this one wins.",
      }),
    },
    { required: ["entrypoint"] },
  ),
  string({
    minLength: 1,
    description: 'The older form, also accepted: one string, split on spaces ("python /metric.py").',
  }),
  {
    description:
      "The shell method: a program and its arguments, fed the stage's JSON on stdin; its stdout is the result.",
  },
);

export const httpSchema = object(
  {
    method: string({ minLength: 1, description: "HTTP method, e.g. GET or POST." }),
    url: string({ minLength: 1, description: "URL to call." }),
    headers: record(string(), { description: "Extra request headers." }),
    successCodes: array(integer(), {
      minItems: 1,
      description: "Statuses that mean success; the body is the result. Any other status fails the stage.",
    }),
    parameterMode: literal(["query", "body"] as const, {
      description: "query: the stage's JSON in the query parameter `value`; body: as the request body.",
    }),
    caCert: string({ description: "Path of a CA certificate to trust." }),
    clientCert: string({ description: "Path of a client certificate (with clientKey)." }),
    clientKey: string({ description: "Path of the client certificate's key." }),
  },
  {
    required: ["method", "url", "successCodes", "parameterMode"],
    description: "The http method: calls a URL with the stage's JSON; the response body is the result.",
  },
);

export const moduleSchema = object(
  {
    path: string({
      minLength: 1,
      description: "Path of a .js, .mjs or .ts module (relative to the config file).",
    }),
    export: string({ minLength: 1, default: "default", description: "The exported function to call." }),
  },
  {
    required: ["path"],
    description:
      "The module method (ours): calls a function of a JavaScript or TypeScript module, in process.",
  },
);

export const DEFAULT_METHOD_TIMEOUT_MS = 30_000;
/** 16 MiB: far more than any metric needs, small enough that a runaway script cannot exhaust memory. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export const methodSchema = object(
  {
    type: literal(["shell", "http", "module"] as const, {
      description: "How to run this stage; the block of the same name must be set.",
    }),
    timeout: integer({
      minimum: 1,
      default: DEFAULT_METHOD_TIMEOUT_MS,
      description: "Milliseconds before the stage is abandoned and the run fails.",
    }),
    maxOutputBytes: integer({
      minimum: 1,
      default: DEFAULT_MAX_OUTPUT_BYTES,
      description:
        "Bytes of output (a shell command's stdout, an HTTP response body) beyond which the stage fails, " +
        "rather than pass on a cut-off result.",
    }),
    shell: shellSchema,
    http: httpSchema,
    module: moduleSchema,
    logStderr: boolean({ default: false, description: "Log the stderr of successful shell runs too." }),
  },
  {
    required: ["type"],
    description: "How a stage runs: a shell command, an HTTP call or a module function.",
  },
);

const policySchema = object(
  {
    type: literal(["Pods", "Percent"] as const, {
      description: "Pods: a number of replicas; Percent: a percentage of the current replicas.",
    }),
    value: integer({ minimum: 1, description: "How many replicas (Pods) or percent (Percent) per period." }),
    periodSeconds: integer({
      minimum: 1,
      maximum: 1800,
      description: "The window, in seconds, over which the change is limited.",
    }),
  },
  { required: ["type", "value", "periodSeconds"] },
);

/** The HPA's scaleUp defaults (pkg/apis/autoscaling/v2 defaults). */
export const DEFAULT_SCALE_UP = {
  stabilizationWindowSeconds: 0,
  selectPolicy: "Max",
  policies: [
    { type: "Percent", value: 100, periodSeconds: 15 },
    { type: "Pods", value: 4, periodSeconds: 15 },
  ],
} as const;

/**
 * The HPA's scaleDown defaults. The window comes from the controller's
 * --horizontal-pod-autoscaler-downscale-stabilization (5m by default); the
 * original's downscaleStabilization is not used for it, so behavior mode
 * matches an HPA on a default kube-controller-manager.
 */
export const DEFAULT_SCALE_DOWN = {
  stabilizationWindowSeconds: 300,
  selectPolicy: "Max",
  policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
} as const;

/** One direction's rules; the defaults differ between scaleUp and scaleDown, as in the HPA. */
function scalingRules(
  direction: "up" | "down",
  defaults: typeof DEFAULT_SCALE_UP | typeof DEFAULT_SCALE_DOWN,
) {
  return object(
    {
      stabilizationWindowSeconds: integer({
        minimum: 0,
        maximum: 3600,
        default: defaults.stabilizationWindowSeconds,
        description: `Seconds of past recommendations considered: a scale ${direction} goes no further than the ${direction === "up" ? "lowest" : "highest"} of them.`,
      }),
      selectPolicy: literal(["Max", "Min", "Disabled"] as const, {
        default: defaults.selectPolicy,
        description: `Which policy wins when several apply: Max allows the largest change, Min the smallest; Disabled forbids scaling ${direction}.`,
      }),
      policies: array(policySchema, {
        minItems: 1,
        default: defaults.policies,
        description: "Limits on the change per period; a list given replaces the default list as a whole.",
      }),
      tolerance: string({ description: "Not used; reserved for the HPA's field of the same name." }),
    },
    { description: `How the autoscaler scales ${direction}: stabilisation window and rate limits.` },
  );
}

export const scaleUpRulesSchema = scalingRules("up", DEFAULT_SCALE_UP);
export const scaleDownRulesSchema = scalingRules("down", DEFAULT_SCALE_DOWN);

/** HPA autoscaling/v2 behavior, opt-in: the same arithmetic as the Kubernetes HPA controller. */
export const behaviorSchema = object(
  { scaleUp: scaleUpRulesSchema, scaleDown: scaleDownRulesSchema },
  {
    description:
      "Ours, opt-in: the HPA's (autoscaling/v2) scale-up and scale-down policies and stabilisation windows, " +
      "with the HPA controller's arithmetic. Replaces downscaleStabilization.",
  },
);

/**
 * Defaults of the top-level keys, applied after the file and the env overrides.
 * An apiConfig given without some of its keys keeps their defaults.
 */
export const CONFIG_DEFAULTS = {
  namespace: "default",
  interval: 15_000,
  minReplicas: 1,
  maxReplicas: 10,
  runMode: "per-pod",
  startTime: 1,
  logVerbosity: 0,
  downscaleStabilization: 0,
  apiConfig: { enabled: true, useHTTPS: false, port: 5000, host: "0.0.0.0", certFile: "", keyFile: "" },
  requireKubernetesMetrics: false,
  initialReadinessDelay: 30,
  cpuInitializationPeriod: 300,
  metricConcurrency: 1,
} as const;

/** state.maxBytes when left out, and the most it may be (the CPA's status holds the state). */
export const STATE_DEFAULT_MAX_BYTES = 8192;
export const STATE_LIMIT_MAX_BYTES: number = HISTORY_LIMITS.stateBytes;

const API_DEFAULTS = CONFIG_DEFAULTS.apiConfig;

export const apiConfigSchema = object(
  {
    enabled: boolean({ default: API_DEFAULTS.enabled, description: "Serve the REST API." }),
    useHTTPS: boolean({
      default: API_DEFAULTS.useHTTPS,
      description: "Serve HTTPS with certFile and keyFile instead of HTTP.",
    }),
    port: integer({
      minimum: 0,
      maximum: 65535,
      default: API_DEFAULTS.port,
      description: "Port to listen on.",
    }),
    host: string({ default: API_DEFAULTS.host, description: "Address to listen on." }),
    certFile: string({
      default: API_DEFAULTS.certFile,
      description: "Path of the TLS certificate, with useHTTPS (relative to the config file).",
    }),
    keyFile: string({
      default: API_DEFAULTS.keyFile,
      description: "Path of the TLS certificate's key, with useHTTPS (relative to the config file).",
    }),
  },
  {
    default: CONFIG_DEFAULTS.apiConfig,
    description: "The REST API: run the metric stage or a whole run on request, and Prometheus metrics.",
  },
);

/** The CRD's scaleTargetRef, without its server-side-apply marker (meaningless in a file). */
const { "x-kubernetes-map-type": _atomic, ...targetRefSchema } = scaleTargetRefSchema;

const hook = (when: string) =>
  ({
    ...methodSchema,
    description: `Hook run ${when}. Its output is ignored; its failure fails the run.`,
  }) satisfies typeof methodSchema;

export const configSchema = object(
  {
    scaleTargetRef: {
      ...targetRefSchema,
      description:
        "The workload to scale: any resource with a /scale subresource. The operator sets it from the CPA's " +
        "spec.scaleTargetRef.",
    } satisfies typeof scaleTargetRefSchema,
    namespace: string({
      minLength: 1,
      default: CONFIG_DEFAULTS.namespace,
      description: "Namespace of the target. The operator sets the CPA's namespace.",
    }),
    interval: integer({
      minimum: 1,
      // Node's timers hold at most 2^31-1 ms (24.8 days); beyond, they fire at once.
      maximum: 2147483647,
      default: CONFIG_DEFAULTS.interval,
      description: "Milliseconds between runs (at most 2147483647, about 24.8 days).",
    }),
    minReplicas: integer({
      minimum: 0,
      default: CONFIG_DEFAULTS.minReplicas,
      description: "The fewest replicas the autoscaler sets; 0 enables scaling to and from zero.",
    }),
    maxReplicas: integer({
      minimum: 0,
      default: CONFIG_DEFAULTS.maxReplicas,
      description: "The most replicas the autoscaler sets; at least minReplicas.",
    }),
    runMode: literal(["per-pod", "per-resource"] as const, {
      default: CONFIG_DEFAULTS.runMode,
      description:
        "per-pod: the metric stage runs once for each pod of the target; per-resource: once, for the target.",
    }),
    startTime: integer({
      minimum: 1,
      default: CONFIG_DEFAULTS.startTime,
      description:
        "Runs align to multiples of this many milliseconds since the epoch: the first run is at the next " +
        "multiple, plus one interval.",
    }),
    logVerbosity: integer({
      minimum: 0,
      maximum: 4,
      default: CONFIG_DEFAULTS.logVerbosity,
      description:
        "Accepted for compatibility and not used: set the log level with --log-level or LOG_LEVEL.",
    }),
    downscaleStabilization: integer({
      minimum: 0,
      default: CONFIG_DEFAULTS.downscaleStabilization,
      description:
        "Seconds of past targets a scale-down considers: it goes no lower than the highest of them.",
    }),
    apiConfig: apiConfigSchema,
    metric: { ...methodSchema, description: "The metric stage: gathers the metrics, per pod or per target." },
    evaluate: {
      ...methodSchema,
      description: "The evaluate stage: turns the metrics into targetReplicas.",
    },
    preMetric: hook("before the metric stage"),
    postMetric: hook("after the metric stage"),
    preEvaluate: hook("before the evaluate stage"),
    postEvaluate: hook("after the evaluate stage"),
    preScale: hook("before the target is scaled"),
    postScale: hook("after the target is scaled"),
    kubernetesMetricSpecs: array(
      anyObject({ description: "An autoscaling/v2 MetricSpec, as in an HPA's spec.metrics." }),
      {
        description:
          "Kubernetes metrics (metrics-server, custom and external metrics) read before each metric stage " +
          "and handed to it as kubernetesMetrics.",
      },
    ),
    requireKubernetesMetrics: boolean({
      default: CONFIG_DEFAULTS.requireKubernetesMetrics,
      description: "Fail the run when any Kubernetes metric cannot be read, instead of leaving it out.",
    }),
    initialReadinessDelay: integer({
      minimum: 0,
      default: CONFIG_DEFAULTS.initialReadinessDelay,
      description:
        "Seconds, as the HPA's: after cpuInitializationPeriod, an unready pod that has never been ready (its " +
        "readiness last changed within this many seconds of its start) is ignored for CPU.",
    }),
    cpuInitializationPeriod: integer({
      minimum: 0,
      default: CONFIG_DEFAULTS.cpuInitializationPeriod,
      description:
        "Seconds, as the HPA's: this long after a pod's start, its CPU sample is ignored if the pod is unready " +
        "or the sample began before the pod became ready.",
    }),
    behavior: behaviorSchema,
    metricConcurrency: integer({
      minimum: 1,
      maximum: 256,
      default: CONFIG_DEFAULTS.metricConcurrency,
      description:
        "per-pod mode: how many metric runs (one per pod) may run at once; 1, the default, runs them one " +
        "after another as the original does. The metrics keep the pods' order, and each run has its own timeout.",
    }),
    fallback: object(
      {
        failureThreshold: integer({
          minimum: 1,
          description:
            "Consecutive failed runs (a metric or evaluate stage, a hook, or a required Kubernetes metric) before the fallback.",
        }),
        replicas: integer({
          minimum: 0,
          description: "The replicas to set then, clamped to minReplicas and maxReplicas.",
        }),
      },
      {
        required: ["failureThreshold", "replicas"],
        description:
          "A safety net for when the metrics fail: after failureThreshold failed runs in a row, the target goes to " +
          "replicas at once (no stabilisation window or behavior policy holds it), and stays there while runs " +
          "keep failing; the first good run decides as usual again. Off unless set.",
      },
    ),
    state: object(
      {
        enabled: boolean({
          default: false,
          description: "Pass state to the metric and evaluate stages, and keep what evaluate returns.",
        }),
        maxBytes: integer({
          minimum: 2,
          maximum: STATE_LIMIT_MAX_BYTES,
          default: STATE_DEFAULT_MAX_BYTES,
          description:
            "The most the state may take as JSON, in bytes; a larger state fails the run with an error naming the limit.",
        }),
      },
      {
        description:
          "State for your stages, kept in the CPA's status so that it outlives the autoscaler Pod: the metric and " +
          "evaluate stages get it as `state` in their input (null at first), and evaluate may return a new one " +
          "beside targetReplicas. Beyond the original; off unless enabled, so the stages' input stays the original's.",
      },
    ),
  },
  { required: ["scaleTargetRef", "metric", "evaluate"] },
);

export type Method = Static<typeof methodSchema>;
export type ShellConfig = Static<typeof shellSchema>;
export type HttpConfig = Static<typeof httpSchema>;
export type ModuleConfig = Static<typeof moduleSchema>;
export type Behavior = Static<typeof behaviorSchema>;
export type Fallback = NonNullable<Static<typeof configSchema>["fallback"]>;
export type UserStateConfig = NonNullable<Static<typeof configSchema>["state"]>;
export type ScalingRules = Static<typeof scaleUpRulesSchema>;
export type ApiConfig = Static<typeof apiConfigSchema>;
/** config.yaml as written: everything but the three required keys may be left out. */
export type RawConfig = Static<typeof configSchema>;
