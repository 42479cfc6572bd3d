import type { V1OwnerReference } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import { KIND, GROUP } from "../api/names.ts";
import type { KubeObject } from "../kube/objects.ts";
import { canonicalJson } from "../lib/canonical-json.ts";

export function controllerOf(obj: KubeObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** The informer index of owned kinds: by the uid of the object's controller. */
export const CONTROLLER_INDEX = "controller-uid";

/** The index's values for an object: its controller's uid, if it has one. Pure. */
export const controllerUid = (obj: KubeObject): readonly string[] => {
  const uid = controllerOf(obj)?.uid;
  return uid ? [uid] : [];
};

/**
 * Whether a change of a CPA can change what the operator does: its spec (the
 * generation), the labels and annotations it reads, its deletion, or its being
 * another object of the same name. Status writes, which every autoscaler makes
 * every interval, are not: they reach the cache but queue no reconcile. Pure.
 */
export function cpaChangeMatters(old: KubeObject, next: KubeObject): boolean {
  const read = (o: KubeObject): string => {
    const m = o.metadata ?? {};
    return canonicalJson([
      m.uid,
      m.generation,
      Boolean(m.deletionTimestamp),
      m.labels ?? {},
      m.annotations ?? {},
    ]);
  };
  return read(old) !== read(next);
}

export type Ownership = "ours" | "previous-incarnation" | "foreign";

/**
 * Whose object is it? Ours when its controller is this very CPA (same uid). An
 * object controlled by a deleted CPA of the same name is on its way out through
 * garbage collection; anything else belongs to someone else and is never touched.
 */
export function ownershipOf(obj: KubeObject, cpa: CustomPodAutoscaler): Ownership {
  const ref = controllerOf(obj);
  const isCpa =
    ref?.kind === KIND && ref.apiVersion.startsWith(`${GROUP}/`) && ref.name === cpa.metadata.name;
  if (isCpa && ref.uid === cpa.metadata.uid) return "ours";
  if (isCpa) return "previous-incarnation";
  return "foreign";
}

/** Compares only what we set: our labels, our controller reference, and the kind's compared fields. Pure. */
export function differs(live: KubeObject, desired: KubeObject, compared: readonly string[]): string[] {
  return [...metadataDiffers(live, desired), ...changedFields(live, desired, compared)];
}

/** Which of the fields differ between the live object and the desired one. Pure. */
export function changedFields(live: KubeObject, desired: KubeObject, fields: readonly string[]): string[] {
  const field = (obj: KubeObject, name: string): unknown => (obj as Record<string, unknown>)[name] ?? null;
  return fields.filter((f) => canonicalJson(field(live, f)) !== canonicalJson(field(desired, f)));
}

function metadataDiffers(live: KubeObject, desired: KubeObject): string[] {
  const reasons: string[] = [];
  const liveLabels = live.metadata?.labels ?? {};
  const wanted = Object.entries(desired.metadata?.labels ?? {});
  if (wanted.some(([k, v]) => liveLabels[k] !== v)) reasons.push("labels");
  const ours = desired.metadata?.ownerReferences?.[0];
  const hasOurs = live.metadata?.ownerReferences?.some((r) => r.uid === ours?.uid && r.controller === true);
  if (ours && !hasOurs) reasons.push("owner reference");
  return reasons;
}
