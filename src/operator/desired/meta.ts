import { createHash } from "node:crypto";
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../api/custom-pod-autoscaler.ts";
import { API_VERSION, KIND, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNED_BY_LABEL } from "../../api/names.ts";

/**
 * The owned-by label holds the CPA's name, as in the original. Label values are
 * limited to 63 characters, so longer names (valid for a CPA) are shortened and
 * made unique with a hash.
 */
export function ownedByValue(name: string): string {
  if (name.length <= 63) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 10);
  return `${name.slice(0, 52).replace(/[^a-zA-Z0-9]+$/, "")}-${hash}`;
}

export function ownedLabels(cpa: CustomPodAutoscaler): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [OWNED_BY_LABEL]: ownedByValue(cpa.metadata.name) };
}

/** The controller reference that lets garbage collection delete the object with its CPA. */
export function controllerReference(cpa: CustomPodAutoscaler): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: cpa.metadata.name,
    uid: cpa.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function ownedMetadata(cpa: CustomPodAutoscaler, name = cpa.metadata.name) {
  return {
    name,
    namespace: cpa.metadata.namespace,
    labels: ownedLabels(cpa),
    ownerReferences: [controllerReference(cpa)],
  };
}
