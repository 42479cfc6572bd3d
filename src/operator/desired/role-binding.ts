import type { V1RoleBinding } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../api/custom-pod-autoscaler.ts";
import { ownedMetadata } from "./meta.ts";

/** Binds the CPA's Role to its ServiceAccount; both are named like the CPA, provisioned or not. */
export function desiredRoleBinding(cpa: CustomPodAutoscaler): V1RoleBinding {
  const name = cpa.metadata.name;
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: ownedMetadata(cpa),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name, namespace: cpa.metadata.namespace }],
  };
}
