// The operator's own permissions, as data: rbac/ and the install bundles are
// generated from these. RBAC lets a subject grant only what it holds itself
// (we do not ask for the `escalate` or `bind` verbs), so the operator holds
// exactly what it needs plus what it grants to the autoscalers it provisions.
// For targets beyond the built-in kinds, a cluster admin adds a ClusterRole
// labelled AGGREGATE_LABEL and the operator's ClusterRole picks it up.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { GROUP, PLURAL } from "../api/names.ts";
import { ARGO_ROLLOUTS_RULES, METRICS_RULES } from "./desired/role.ts";

export const AGGREGATE_LABEL = `${GROUP}/aggregate-to-operator`;

const CRUD = ["get", "list", "watch", "create", "update", "patch", "delete"];

/** To manage CPAs and what they own. */
export const MANAGE_RULES: readonly V1PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch"] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["get", "update", "patch"] },
  { apiGroups: [""], resources: ["serviceaccounts", "pods"], verbs: CRUD },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: CRUD },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];

/**
 * The targets every cluster has (plus Argo Rollouts): read them and change their
 * /scale. Held to grant them to autoscalers, and to hold a paused target's replicas.
 */
export const TARGET_RULES: readonly V1PolicyRule[] = [
  { apiGroups: ["apps"], resources: ["deployments", "statefulsets", "replicasets"], verbs: ["get"] },
  {
    apiGroups: ["apps"],
    resources: ["deployments/scale", "statefulsets/scale", "replicasets/scale"],
    verbs: ["get", "update", "patch"],
  },
  { apiGroups: [""], resources: ["replicationcontrollers"], verbs: ["get"] },
  { apiGroups: [""], resources: ["replicationcontrollers/scale"], verbs: ["get", "update", "patch"] },
  ...ARGO_ROLLOUTS_RULES,
];

/** Everything the operator holds in the namespaces it manages. */
export const OPERATOR_RULES: readonly V1PolicyRule[] = [...MANAGE_RULES, ...TARGET_RULES, ...METRICS_RULES];

/** Leader election, in the operator's own namespace. */
export const LEADER_ELECTION_RULES: readonly V1PolicyRule[] = [
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
];
