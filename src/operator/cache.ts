// What the operator's informer caches keep of each object: only the fields the
// reconciler reads. A Pod as the API returns it carries its whole spec and
// managedFields (several KB); the cache holds a few hundred bytes of it. Each
// owned kind says what it keeps (owned/<kind>.ts, `kept`); when the reconciler
// starts reading another field, add it there: the kinds test, the cache test
// and the integration suite fail otherwise.
import type { KubeObject } from "../kube/objects.ts";
import type { Kept } from "./owned/kind.ts";
import { OWNED_KINDS } from "./owned/index.ts";

/** Of every object: who it is, whose it is, and whether it is going. */
export const METADATA_FIELDS: readonly string[] = [
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

/** Beyond metadata, per kind: the CPA's, and each owned kind's own. */
export const KEPT_FIELDS: Readonly<Record<string, Kept>> = {
  CustomPodAutoscaler: { spec: true, status: true },
  ...Object.fromEntries(OWNED_KINDS.map((k) => [k.kind, k.kept])),
};

function pick(
  obj: Record<string, unknown> | undefined,
  fields: readonly string[],
): Record<string, unknown> | undefined {
  if (!obj) return undefined;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (obj[f] !== undefined) out[f] = obj[f];
  return out;
}

/** The informer transform for objects of kind. */
export function keepFor(kind: string): (obj: KubeObject) => KubeObject {
  const kept = KEPT_FIELDS[kind];
  if (!kept) throw new Error(`the operator caches no objects of kind ${kind}`);
  const fields = Object.entries(kept);
  return (obj) => {
    const source = obj as Record<string, unknown>;
    const out: Record<string, unknown> = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: pick(obj.metadata as Record<string, unknown> | undefined, METADATA_FIELDS),
    };
    for (const [f, which] of fields) {
      const value = source[f];
      if (value === undefined) continue;
      out[f] = which === true ? value : pick(value as Record<string, unknown>, which);
    }
    return out;
  };
}
