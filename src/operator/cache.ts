// What the operator's informer caches keep of each object: only the fields the
// reconciler reads. A Pod as the API returns it carries its whole spec and
// managedFields (several KB); the cache holds a few hundred bytes of it. When
// the reconciler starts reading another field, add it here: the cache test and
// the integration suite fail otherwise.
import type { KubeObject } from "../kube/objects.ts";

type Fields = readonly string[];

/** Of every object: who it is, whose it is, and whether it is going. */
export const METADATA_FIELDS: Fields = [
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "labels",
  "annotations",
  "ownerReferences",
];

/** Beyond metadata, per kind. */
export const KEPT_FIELDS = {
  CustomPodAutoscaler: ["spec", "status"],
  // The Pod's spec is never read: a hash annotation stands for it.
  Pod: ["status"],
  ServiceAccount: [],
  Role: ["rules"],
  RoleBinding: ["roleRef", "subjects"],
} as const satisfies Record<string, Fields>;

/** Of a Pod's status, what says whether the autoscaler runs (operator/pod-health.ts). */
export const POD_STATUS_FIELDS: Fields = [
  "phase",
  "conditions",
  "containerStatuses",
  "initContainerStatuses",
];

function pick(obj: Record<string, unknown> | undefined, fields: Fields): Record<string, unknown> | undefined {
  if (!obj) return undefined;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (obj[f] !== undefined) out[f] = obj[f];
  return out;
}

/** The informer transform for objects of kind. */
export function keepFor(kind: keyof typeof KEPT_FIELDS): (obj: KubeObject) => KubeObject {
  const fields: Fields = KEPT_FIELDS[kind];
  return (obj) => {
    const source = obj as Record<string, unknown>;
    const kept: Record<string, unknown> = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: pick(obj.metadata as Record<string, unknown> | undefined, METADATA_FIELDS),
    };
    for (const f of fields) {
      const value = source[f];
      if (value === undefined) continue;
      kept[f] =
        kind === "Pod" && f === "status" ? pick(value as Record<string, unknown>, POD_STATUS_FIELDS) : value;
    }
    return kept;
  };
}
