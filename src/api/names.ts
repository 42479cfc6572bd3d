// Names of the API: group, kinds, and the labels and annotations that are part of
// the contract with the original operator (users' tooling selects on them).

export const GROUP = "custompodautoscaler.com";
export const VERSION = "v1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "CustomPodAutoscaler";
export const PLURAL = "custompodautoscalers";
export const SINGULAR = "custompodautoscaler";
export const SHORT_NAMES = ["cpa"] as const;

/** Labels every provisioned object carries (same keys and values as the original). */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "custom-pod-autoscaler-operator";
export const OWNED_BY_LABEL = "v1.custompodautoscaler.com/owned-by";

/** The ValidatingAdmissionPolicy and binding the operator relies on (operator/admission-policy.ts). */
export const ADMISSION_POLICY_NAME = "cpa-requester-rights";
/** The ValidatingAdmissionPolicy that narrows an autoscaler's Pod patches to the deletion cost. */
export const POD_COST_POLICY_NAME = "cpa-pod-deletion-cost";
/** Honoured by the ReplicaSet controller: on scale-down, Pods with the lower cost go first. */
export const DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";
/** Pausing: the target is held at this many replicas and no autoscaler runs. */
export const PAUSED_REPLICAS_ANNOTATION = "v1.custompodautoscaler.com/paused-replicas";

/**
 * Shadow mode: "true" runs every stage and decides, but never writes the
 * target's /scale; the status, Events and metrics say what it would have done.
 * The Role then grants no /scale write (unless the CPA is also paused).
 */
export const SHADOW_ANNOTATION = `${GROUP}/shadow`;

/** Whether an object's annotations make it a shadow. Pure. */
export const isShadow = (annotations: Readonly<Record<string, string>> | undefined): boolean =>
  annotations?.[SHADOW_ANNOTATION] === "true";

/** Hash of everything the autoscaler Pod is built from; the Pod is replaced only when it changes. */
export const POD_HASH_ANNOTATION = "v1.custompodautoscaler.com/pod-template-hash";

/** Env vars the operator sets on the autoscaler's containers; spec.config may not use these names. */
export const CPA_NAME_ENV = "CPA_NAME";
/** Set to "true" on a shadow CPA's autoscaler (SHADOW_ANNOTATION). */
export const CPA_SHADOW_ENV = "CPA_SHADOW";
export const OPERATOR_ENV_NAMES = ["scaleTargetRef", "namespace", CPA_NAME_ENV, CPA_SHADOW_ENV] as const;
