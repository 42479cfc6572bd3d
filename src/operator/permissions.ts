// The operator's own permissions, as data: rbac/ and the install bundles are
// generated from these. RBAC lets a subject grant only what it holds itself
// (we do not ask for the `escalate` or `bind` verbs), so the operator holds
// exactly what it sends plus what it grants to the autoscalers it provisions;
// an integration test derives that set from the apiserver's audit log and
// compares it with these rules. For targets beyond the built-in kinds, a
// cluster admin adds a ClusterRole labelled AGGREGATE_LABEL and the operator's
// ClusterRole picks it up.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { ADMISSION_POLICY_NAME, GROUP, PLURAL, POD_COST_POLICY_NAME } from "../api/names.ts";
import { FLAGGED_RULES } from "./desired/role.ts";
import { OWNED_KINDS } from "./owned/index.ts";

export const AGGREGATE_LABEL = `${GROUP}/aggregate-to-operator`;

/** A kind that can be scaled through /scale, and the resource that serves it. */
export interface TargetKind {
  kind: string;
  group: string;
  resource: string;
}

/**
 * The scalable kinds the operator and the admission policy know without being
 * told: every cluster's workloads, and Argo Rollouts.
 */
export const BUILTIN_TARGETS: readonly TargetKind[] = [
  { kind: "Deployment", group: "apps", resource: "deployments" },
  { kind: "StatefulSet", group: "apps", resource: "statefulsets" },
  { kind: "ReplicaSet", group: "apps", resource: "replicasets" },
  { kind: "ReplicationController", group: "", resource: "replicationcontrollers" },
  { kind: "Rollout", group: "argoproj.io", resource: "rollouts" },
];

/** To manage CPAs and what they own: the verbs the operator sends, and no others. */
export const MANAGE_RULES: readonly V1PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch"] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["get", "update", "patch"] },
  // OwnerReferencesPermissionEnforcement (on in OpenShift) requires it to create
  // objects whose owner reference to the CPA sets blockOwnerDeletion.
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ["update"] },
  // What the operator provisions, with the verbs each owned kind declares (owned/).
  ...OWNED_KINDS.map((k) => ({
    apiGroups: [k.type.group],
    resources: [k.type.resource],
    verbs: [...k.verbs],
  })),
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];

/**
 * The built-in targets: read them and change their /scale. Held to grant them
 * to autoscalers, and to hold a paused target's replicas.
 */
export const TARGET_RULES: readonly V1PolicyRule[] = [
  ...new Set(BUILTIN_TARGETS.map((t) => t.group)),
].flatMap((group) => {
  const resources = BUILTIN_TARGETS.filter((t) => t.group === group).map((t) => t.resource);
  return [
    { apiGroups: [group], resources, verbs: ["get"] },
    { apiGroups: [group], resources: resources.map((r) => `${r}/scale`), verbs: ["get", "update", "patch"] },
  ];
});

/** Everything the operator holds in the namespaces it manages. */
export const OPERATOR_RULES: readonly V1PolicyRule[] = [...MANAGE_RULES, ...TARGET_RULES, ...FLAGGED_RULES];

/** Leader election, in the operator's own namespace. */
export const LEADER_ELECTION_RULES: readonly V1PolicyRule[] = [
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
];

/**
 * Cluster-wide, by name: reading the admission policies and their bindings, which
 * the operator checks before it provisions anything (admission-guard.ts). A
 * ClusterRole of its own, bound by a ClusterRoleBinding even in the namespaced
 * install, whose RoleBindings cannot grant cluster-scoped objects.
 */
export const POLICY_READ_RULES: readonly V1PolicyRule[] = [
  {
    apiGroups: ["admissionregistration.k8s.io"],
    resources: ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
    resourceNames: [ADMISSION_POLICY_NAME, POD_COST_POLICY_NAME],
    verbs: ["get"],
  },
];
