import { array, integer, literal, object, string, type Static } from "./schema.ts";

/** metav1.Condition, as every modern Kubernetes API reports conditions. */
export const conditionSchema = object(
  {
    type: string({ description: "Type of the condition, in CamelCase.", maxLength: 316 }),
    status: literal(["True", "False", "Unknown"] as const, { description: "True, False or Unknown." }),
    observedGeneration: integer({
      format: "int64",
      minimum: 0,
      description: "The .metadata.generation the condition was set for.",
    }),
    lastTransitionTime: string({
      format: "date-time",
      description: "When the condition last changed from one status to another.",
    }),
    reason: string({
      maxLength: 1024,
      description: "A CamelCase, machine-readable reason for the last transition.",
    }),
    message: string({ maxLength: 32768, description: "A human-readable message about the last transition." }),
  },
  { required: ["type", "status", "lastTransitionTime", "reason", "message"] },
);

export type Condition = Static<typeof conditionSchema>;

export const conditionsSchema = array(conditionSchema, {
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
  description: "The latest observations of the CustomPodAutoscaler's state.",
});

/** Condition types and reasons. The operator owns Ready and Provisioned; the autoscaler the HPA-named ones. */
export const ConditionType = {
  Ready: "Ready",
  Provisioned: "Provisioned",
  /** Whether the spec.config entries pass the runtime's own checks, as far as the operator can tell. */
  ConfigValid: "ConfigValid",
  AbleToScale: "AbleToScale",
  ScalingActive: "ScalingActive",
  ScalingLimited: "ScalingLimited",
} as const;

export const Reason = {
  Provisioned: "Provisioned",
  ConfigValid: "ConfigValid",
  InvalidConfig: "InvalidConfig",
  AutoscalerRunning: "AutoscalerRunning",
  AutoscalerNotReady: "AutoscalerNotReady",
  AutoscalerRestarting: "AutoscalerRestarting",
  PodPending: "PodPending",
  PodReplacing: "PodReplacing",
  PodRejected: "PodRejected",
  PodNotProvisioned: "PodNotProvisioned",
  RoleRejected: "RoleRejected",
  ProvisionFailed: "ProvisionFailed",
  ResourceExists: "ResourceExists",
  ServiceAccountForbidden: "ServiceAccountForbidden",
  TargetUnresolved: "TargetUnresolved",
  Paused: "Paused",
  InvalidPausedReplicas: "InvalidPausedReplicas",
  /** The admission policy the operator relies on is missing or not this release's (admission-guard.ts). */
  AdmissionPolicyMissing: "AdmissionPolicyMissing",
} as const;
