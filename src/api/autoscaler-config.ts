// The autoscaler runtime's configuration (config.yaml plus env overrides): the
// original's keys and defaults, and our additions. One definition gives the ajv
// validator, the defaults and the TypeScript types.
import { scaleTargetRefSchema } from "./custom-pod-autoscaler.ts";
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
    },
    { required: ["entrypoint"] },
  ),
  string({ minLength: 1, description: 'The older form: one string, split on spaces ("python /metric.py").' }),
);

export const httpSchema = object(
  {
    method: string({ minLength: 1, description: "HTTP method, e.g. GET or POST." }),
    url: string({ minLength: 1, description: "URL to call." }),
    headers: record(string(), { description: "Extra request headers." }),
    successCodes: array(integer(), {
      minItems: 1,
      description: "Statuses that mean success; the body is the result.",
    }),
    parameterMode: literal(["query", "body"] as const, {
      description: "query: the stage's JSON in the query parameter `value`; body: as the request body.",
    }),
    caCert: string({ description: "Path of a CA certificate to trust." }),
    clientCert: string({ description: "Path of a client certificate (with clientKey)." }),
    clientKey: string({ description: "Path of the client certificate's key." }),
  },
  { required: ["method", "url", "successCodes", "parameterMode"] },
);

export const moduleSchema = object(
  {
    path: string({
      minLength: 1,
      description: "Path of a .js, .mjs or .ts module (relative to the config file).",
    }),
    export: string({ minLength: 1, description: "The exported function to call (default: default)." }),
  },
  { required: ["path"] },
);

export const methodSchema = object(
  {
    type: literal(["shell", "http", "module"] as const, { description: "How to run this stage." }),
    timeout: integer({
      minimum: 1,
      description: "Milliseconds before the stage is abandoned (default 30000).",
    }),
    shell: shellSchema,
    http: httpSchema,
    module: moduleSchema,
    logStderr: boolean({ description: "Log the stderr of successful shell runs too." }),
  },
  { required: ["type"] },
);

const policySchema = object(
  {
    type: literal(["Pods", "Percent"] as const),
    value: integer({ minimum: 1 }),
    periodSeconds: integer({ minimum: 1, maximum: 1800 }),
  },
  { required: ["type", "value", "periodSeconds"] },
);

export const scalingRulesSchema = object({
  stabilizationWindowSeconds: integer({ minimum: 0, maximum: 3600 }),
  selectPolicy: literal(["Max", "Min", "Disabled"] as const),
  policies: array(policySchema, { minItems: 1 }),
  tolerance: string({ description: "Not used; reserved for the HPA's field of the same name." }),
});

/** HPA autoscaling/v2 behavior, opt-in: the same arithmetic as the Kubernetes HPA controller. */
export const behaviorSchema = object({ scaleUp: scalingRulesSchema, scaleDown: scalingRulesSchema });

export const apiConfigSchema = object({
  enabled: boolean(),
  useHTTPS: boolean(),
  port: integer({ minimum: 0, maximum: 65535 }),
  host: string(),
  certFile: string(),
  keyFile: string(),
});

export const configSchema = object(
  {
    scaleTargetRef: scaleTargetRefSchema,
    namespace: string({ minLength: 1 }),
    interval: integer({ minimum: 1, description: "Milliseconds between runs." }),
    minReplicas: integer({ minimum: 0 }),
    maxReplicas: integer({ minimum: 0 }),
    runMode: literal(["per-pod", "per-resource"] as const),
    startTime: integer({
      minimum: 1,
      description: "Runs align to multiples of this many milliseconds since the epoch.",
    }),
    logVerbosity: integer({ minimum: 0, maximum: 4 }),
    downscaleStabilization: integer({ minimum: 0, description: "Seconds." }),
    apiConfig: apiConfigSchema,
    metric: methodSchema,
    evaluate: methodSchema,
    preMetric: methodSchema,
    postMetric: methodSchema,
    preEvaluate: methodSchema,
    postEvaluate: methodSchema,
    preScale: methodSchema,
    postScale: methodSchema,
    kubernetesMetricSpecs: array(anyObject()),
    requireKubernetesMetrics: boolean(),
    initialReadinessDelay: integer({ minimum: 0, description: "Seconds." }),
    cpuInitializationPeriod: integer({ minimum: 0, description: "Seconds." }),
    behavior: behaviorSchema,
  },
  { required: ["scaleTargetRef", "metric", "evaluate"] },
);

export type Method = Static<typeof methodSchema>;
export type ShellConfig = Static<typeof shellSchema>;
export type HttpConfig = Static<typeof httpSchema>;
export type ModuleConfig = Static<typeof moduleSchema>;
export type Behavior = Static<typeof behaviorSchema>;
export type ScalingRules = Static<typeof scalingRulesSchema>;
export type ApiConfig = Static<typeof apiConfigSchema>;
/** config.yaml as written: everything but the three required keys may be left out. */
export type RawConfig = Static<typeof configSchema>;

export const DEFAULT_METHOD_TIMEOUT_MS = 30_000;
