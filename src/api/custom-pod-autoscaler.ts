// The CustomPodAutoscaler API (custompodautoscaler.com/v1): the one definition the
// CRD, the TypeScript types and validation all derive from. Every manifest the
// original operator accepted is accepted unchanged.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { conditionsSchema } from "./conditions.ts";
import { OPERATOR_ENV_NAMES } from "./names.ts";
import {
  anyObject,
  array,
  boolean,
  integer,
  object,
  openObject,
  string,
  type Schema,
  type Static,
} from "./schema.ts";

/** Kubernetes' rule for environment variable names (the config names become env vars). */
export const ENV_VAR_NAME = "^[-._a-zA-Z][-._a-zA-Z0-9]*$";

export const scaleTargetRefSchema = object(
  {
    apiVersion: string({
      description:
        "API version of the target, e.g. apps/v1. When empty the kind is looked up in every API group.",
    }),
    kind: string({
      minLength: 1,
      description: "Kind of the target, e.g. Deployment. It must have a /scale subresource.",
    }),
    name: string({
      minLength: 1,
      description: "Name of the target, in the CustomPodAutoscaler's namespace.",
    }),
  },
  {
    required: ["kind", "name"],
    "x-kubernetes-map-type": "atomic",
    description: "The workload to scale: any resource with a /scale subresource.",
  },
);

export const configEntrySchema = object(
  {
    name: string({
      minLength: 1,
      maxLength: 253,
      description:
        "A config key of the autoscaler (e.g. interval), passed to the autoscaler Pod as an env var.",
      "x-kubernetes-validations": [
        {
          rule: `self.matches('${ENV_VAR_NAME}')`,
          message:
            "must be a valid environment variable name: letters, digits, '_', '-' and '.', not starting with a digit",
        },
        {
          rule: `!(self in [${OPERATOR_ENV_NAMES.map((n) => `'${n}'`).join(", ")}])`,
          // The static message is what the reference docs show; the apiserver uses the expression.
          message: `must not be ${OPERATOR_ENV_NAMES.join(", ")}: the operator sets these itself`,
          messageExpression: `self + ' is reserved: the operator sets ${OPERATOR_ENV_NAMES.join(", ")} on the autoscaler Pod itself; remove this entry'`,
        },
      ],
    }),
    value: string({ description: "The value, always a string (quote numbers and booleans in YAML)." }),
  },
  { required: ["name", "value"], description: "One config key of the autoscaler and its value." },
);

const containerSchema = openObject(
  {
    name: string({ minLength: 1, description: "Name of the container." }),
    image: string({
      minLength: 1,
      description: "Image of the container: an image built FROM the cpa image.",
    }),
    env: array(
      openObject(
        { name: string({ description: "Name of the variable." }) },
        { required: ["name"], description: "A core/v1 EnvVar: name, and value or valueFrom." },
      ),
      { description: "The container's own env; the operator's variables are added after these." },
    ),
  },
  {
    required: ["name", "image"],
    description:
      "A core/v1 Container. Its fields other than name, image and env are passed to the Pod as given.",
  },
);

export const podTemplateSchema = object(
  {
    metadata: anyObject({
      description:
        "A core/v1 ObjectMeta: labels, annotations and name of the autoscaler Pod (the name defaults to the CPA's).",
    }),
    spec: openObject(
      {
        containers: array(containerSchema, {
          minItems: 1,
          description: "The autoscaler's containers; each gets the operator's env vars.",
        }),
        serviceAccountName: string({
          description:
            "The ServiceAccount the autoscaler Pod runs as when provisionServiceAccount is false (default: " +
            "the CustomPodAutoscaler's name). Ignored when the operator provisions the ServiceAccount.",
        }),
      },
      {
        required: ["containers"],
        description:
          "A core/v1 PodSpec. Fields beyond the containers' names, images and env are checked by the apiserver " +
          "when the Pod is created; a rejected Pod is reported in the Provisioned condition.",
      },
    ),
  },
  {
    required: ["spec"],
    description:
      "The autoscaler Pod, as in a Deployment's template: a core/v1 PodTemplateSpec. Only the fields the " +
      "operator checks or sets are declared; every other field is kept and passed to the Pod as given.",
  },
);

/**
 * What the operator assumes for an unset flag, as the original did. Not schema
 * defaults: the apiserver would write those into every stored object.
 */
export const SPEC_DEFAULTS = {
  provisionServiceAccount: true,
  provisionRole: true,
  provisionRoleBinding: true,
  provisionPod: true,
  roleRequiresMetricsServer: false,
  roleRequiresArgoRollouts: false,
  roleRequiresPodDeletionCost: false,
} as const;

const provision = (what: string, byDefault: boolean): Schema<boolean> =>
  boolean({
    description: `Whether the operator provisions the ${what} (default ${byDefault}). When false you bring it.`,
  });

export const specSchema = object(
  {
    template: podTemplateSchema,
    scaleTargetRef: scaleTargetRefSchema,
    config: array(configEntrySchema, {
      maxItems: 256,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
      description:
        "Autoscaler configuration, injected into the autoscaler Pod as env vars, in order: each name is a " +
        "config.yaml key, whose value overrides the file's.",
    }),
    provisionServiceAccount: provision("ServiceAccount", SPEC_DEFAULTS.provisionServiceAccount),
    provisionRole: provision("Role", SPEC_DEFAULTS.provisionRole),
    provisionRoleBinding: provision("RoleBinding", SPEC_DEFAULTS.provisionRoleBinding),
    provisionPod: provision("autoscaler Pod", SPEC_DEFAULTS.provisionPod),
    roleRequiresMetricsServer: boolean({
      description:
        "Grant the autoscaler read access to the metrics APIs (metrics.k8s.io, custom and external metrics).",
    }),
    roleRequiresArgoRollouts: boolean({
      description: "Grant the autoscaler access to Argo Rollouts and their /scale.",
    }),
    roleRequiresPodDeletionCost: boolean({
      description:
        "Grant the autoscaler patch on the namespace's Pods, so that before a scale-down it can set the " +
        "controller.kubernetes.io/pod-deletion-cost annotation on the Pods its evaluate stage named in " +
        "podsToRemove. The cpa-pod-deletion-cost admission policy limits those patches to that annotation on " +
        "the target's Pods; the CPA's author must hold patch on pods.",
    }),
  },
  {
    required: ["template", "scaleTargetRef"],
    description: "What to scale, and the autoscaler that scales it.",
  },
);

export const decisionSchema = object(
  {
    evaluation: integer({
      format: "int32",
      description: "targetReplicas as the evaluate stage returned it.",
    }),
    afterClamp: integer({ format: "int32", description: "After clamping to [minReplicas, maxReplicas]." }),
    afterStabilization: integer({ format: "int32", description: "After the stabilisation window." }),
    afterPolicies: integer({ format: "int32", description: "After the behavior's scaling policies." }),
    desired: integer({ format: "int32", description: "What the autoscaler set, or would set." }),
    reason: string({ description: "Why, in words." }),
  },
  { description: "The autoscaler's latest decision, step by step." },
);

/** The most entries status.history keeps of each list; decide/history.ts bounds the scale events alike. */
export const HISTORY_LIMITS = { recommendations: 2000, scaleEvents: 1000, stateBytes: 65_536 } as const;

const at = string({ format: "date-time", description: "When, to the millisecond." });

const scaleEventsSchema = (direction: string): Schema<{ at: string; change: number }[]> =>
  array(
    object(
      { at, change: integer({ format: "int32", minimum: 1, description: "Replicas added or removed." }) },
      { required: ["at", "change"] },
    ),
    {
      maxItems: HISTORY_LIMITS.scaleEvents,
      description: `Scale-${direction}s still inside a behavior policy's period, oldest first.`,
    },
  );

export const historySchema = object(
  {
    target: string({
      description:
        "The target this history is about, as apiVersion/kind/name; an autoscaler for another target drops it.",
    }),
    recommendations: array(
      object(
        { at, replicas: integer({ format: "int32", minimum: 0, description: "The recommendation." }) },
        { required: ["at", "replicas"] },
      ),
      {
        maxItems: HISTORY_LIMITS.recommendations,
        description:
          "Past recommendations a stabilisation window can still use, oldest first: only those that can still be a window's highest or lowest.",
      },
    ),
    scaleUpEvents: scaleEventsSchema("up"),
    scaleDownEvents: scaleEventsSchema("down"),
    state: string({
      maxLength: HISTORY_LIMITS.stateBytes,
      description: "The stages' state (config.yaml state.enabled), as JSON text.",
    }),
  },
  {
    description:
      "What the autoscaler keeps across its Pods: the decision history that stabilisation and behavior policies " +
      "read, and the stages' state. A new autoscaler Pod loads it, so it decides as the one before would have. " +
      "Readable by whoever can read the CustomPodAutoscaler.",
  },
);

export const statusSchema = object(
  {
    observedGeneration: integer({
      format: "int64",
      description: "The generation the operator last acted on.",
    }),
    conditions: conditionsSchema,
    reference: string({ description: "The target, as Kind/name." }),
    podName: string({ description: "The autoscaler Pod." }),
    currentReplicas: integer({ format: "int32", description: "Replicas of the target when last observed." }),
    desiredReplicas: integer({ format: "int32", description: "Replicas the autoscaler last decided on." }),
    lastScaleTime: string({
      format: "date-time",
      description: "When the autoscaler last changed the replicas.",
    }),
    decision: decisionSchema,
    history: historySchema,
    shadow: object(
      {
        divergence: integer({
          format: "int32",
          description: "desiredReplicas (what it would set) minus currentReplicas (what the target has).",
        }),
      },
      {
        description:
          'Set while the CPA is a shadow (annotation custompodautoscaler.com/shadow: "true"): it decides but never writes /scale.',
      },
    ),
  },
  { description: "What the operator and the autoscaler last observed and did." },
);

export type ScaleTargetRef = Static<typeof scaleTargetRefSchema>;
export type ConfigEntry = Static<typeof configEntrySchema>;
export type PodTemplate = Static<typeof podTemplateSchema>;
export type CustomPodAutoscalerSpec = Static<typeof specSchema>;
export type CustomPodAutoscalerStatus = Static<typeof statusSchema>;
export type PersistedHistory = Static<typeof historySchema>;

export interface CustomPodAutoscaler {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta & { name: string; namespace: string };
  spec: CustomPodAutoscalerSpec;
  status?: CustomPodAutoscalerStatus;
}
