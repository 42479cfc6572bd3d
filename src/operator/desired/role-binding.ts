import type { V1RoleBinding } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../api/custom-pod-autoscaler.ts";
import { ownedMetadata } from "./meta.ts";

/**
 * Binds the CPA's Role (named like the CPA, provisioned or brought by the user)
 * to the ServiceAccount the autoscaler Pod runs as.
 */
export function desiredRoleBinding(cpa: CustomPodAutoscaler, serviceAccountName: string): V1RoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: ownedMetadata(cpa),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: cpa.metadata.name },
    subjects: [{ kind: "ServiceAccount", name: serviceAccountName, namespace: cpa.metadata.namespace }],
  };
}
