import { createHash } from "node:crypto";
import type { V1EnvVar, V1Pod } from "@kubernetes/client-node";
import type { CustomPodAutoscaler, ScaleTargetRef } from "../../api/custom-pod-autoscaler.ts";
import { POD_HASH_ANNOTATION } from "../../api/names.ts";
import { controllerReference, ownedLabels } from "./meta.ts";

export const CPA_NAME_ENV = "CPA_NAME";

export function podName(cpa: CustomPodAutoscaler): string {
  const fromTemplate = cpa.spec.template.metadata?.["name"];
  return typeof fromTemplate === "string" && fromTemplate ? fromTemplate : cpa.metadata.name;
}

/**
 * The scaleTargetRef env var, in the original's exact JSON (key order kind, name,
 * apiVersion; apiVersion left out when empty), so autoscalers parsing it keep working.
 */
export function scaleTargetRefJson(ref: ScaleTargetRef): string {
  return JSON.stringify({
    kind: ref.kind,
    name: ref.name,
    ...(ref.apiVersion ? { apiVersion: ref.apiVersion } : {}),
  });
}

/**
 * What the operator adds after each container's own env: the target, the
 * namespace and spec.config in order (as the original), then CPA_NAME, which
 * tells the autoscaler which CustomPodAutoscaler to report status on.
 */
export function operatorEnv(cpa: CustomPodAutoscaler): V1EnvVar[] {
  return [
    { name: "scaleTargetRef", value: scaleTargetRefJson(cpa.spec.scaleTargetRef) },
    { name: "namespace", value: cpa.metadata.namespace },
    ...(cpa.spec.config ?? []).map((c) => ({ name: c.name, value: c.value })),
    { name: CPA_NAME_ENV, value: cpa.metadata.name },
  ];
}

/**
 * The autoscaler Pod from spec.template. The annotation carries a hash of
 * everything the Pod is built from: the operator replaces the Pod only when the
 * hash changes, never merely because it restarted or resynced.
 */
export function desiredPod(cpa: CustomPodAutoscaler): V1Pod {
  const template = cpa.spec.template;
  const meta = template.metadata ?? {};
  const env = operatorEnv(cpa);
  const spec = {
    ...template.spec,
    serviceAccountName: cpa.metadata.name,
    containers: template.spec.containers.map((c) => ({ ...c, env: [...(c.env ?? []), ...env] })),
  };
  const labels = { ...stringMap(meta["labels"]), ...ownedLabels(cpa) };
  const annotations = stringMap(meta["annotations"]);
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...meta,
      name: podName(cpa),
      namespace: cpa.metadata.namespace,
      labels,
      annotations,
      ownerReferences: [controllerReference(cpa)],
    },
    spec,
  } as V1Pod;
  annotations[POD_HASH_ANNOTATION] = podHash(pod);
  return pod;
}

/** A short, stable hash of the Pod as built (before the hash annotation is added). */
export function podHash(pod: object): string {
  return createHash("sha256").update(canonicalJson(pod)).digest("hex").slice(0, 16);
}

/** JSON with object keys sorted, so equal objects always hash alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === "string",
    ),
  );
}
