import { createHash } from "node:crypto";
import type { V1EnvVar, V1Pod } from "@kubernetes/client-node";
import type { CustomPodAutoscaler, ScaleTargetRef } from "../../api/custom-pod-autoscaler.ts";
import { CPA_NAME_ENV, CPA_SHADOW_ENV, isShadow, POD_HASH_ANNOTATION } from "../../api/names.ts";
import { canonicalJson } from "../../lib/canonical-json.ts";
import { controllerReference, ownedLabels } from "./meta.ts";

export const SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict";

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
 * tells the autoscaler which CustomPodAutoscaler to report status on, and
 * CPA_SHADOW on a shadow CPA (its Pod is replaced when that changes).
 */
export function operatorEnv(cpa: CustomPodAutoscaler): V1EnvVar[] {
  return [
    { name: "scaleTargetRef", value: scaleTargetRefJson(cpa.spec.scaleTargetRef) },
    { name: "namespace", value: cpa.metadata.namespace },
    ...(cpa.spec.config ?? []).map((c) => ({ name: c.name, value: c.value })),
    { name: CPA_NAME_ENV, value: cpa.metadata.name },
    ...(isShadow(cpa.metadata.annotations) ? [{ name: CPA_SHADOW_ENV, value: "true" }] : []),
  ];
}

/**
 * The ServiceAccount the autoscaler Pod runs as. With provisionServiceAccount
 * (the default) it is the one the operator provisions, named like the CPA, and
 * the template's serviceAccountName is ignored; without, the template's (the
 * user brings it, e.g. for workload identity), else the CPA's name, as the original.
 */
export function podServiceAccountName(cpa: CustomPodAutoscaler, provisionServiceAccount: boolean): string {
  const fromTemplate = cpa.spec.template.spec.serviceAccountName;
  return !provisionServiceAccount && fromTemplate ? fromTemplate : cpa.metadata.name;
}

/**
 * The autoscaler Pod from spec.template, running as serviceAccountName. The
 * annotation carries a hash of everything the Pod is built from: the operator
 * replaces the Pod only when the hash changes, never merely because it
 * restarted or resynced.
 */
export function desiredPod(cpa: CustomPodAutoscaler, serviceAccountName: string): V1Pod {
  const template = cpa.spec.template;
  const meta = template.metadata ?? {};
  const env = operatorEnv(cpa);
  const spec = withSecurityDefaults({
    ...template.spec,
    serviceAccountName,
    containers: template.spec.containers.map((c) => ({
      // On a crash the last lines of its log become the termination message,
      // which the CPA's Ready condition and `kubectl describe pod` show.
      terminationMessagePolicy: "FallbackToLogsOnError",
      ...c,
      env: [...(c.env ?? []), ...env],
    })),
  });
  const labels = { ...stringMap(meta["labels"]), ...ownedLabels(cpa) };
  // The operator recreates the Pod wherever it goes, so the cluster autoscaler may
  // evict it to scale a node down (a bare Pod blocks that unless it says so).
  const annotations: Record<string, string> = {
    [SAFE_TO_EVICT_ANNOTATION]: "true",
    ...stringMap(meta["annotations"]),
  };
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
  } as unknown as V1Pod;
  annotations[POD_HASH_ANNOTATION] = podHash(pod);
  return pod;
}

/** The parts of a core/v1 SecurityContext the defaults read; the rest passes through. */
export interface SecurityContext {
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[] };
  [field: string]: unknown;
}

/** A core/v1 Container or PodSpec as the template gives it: plain JSON, mostly passed through. */
interface Container {
  securityContext?: SecurityContext;
  [field: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { seccompProfile?: unknown; [field: string]: unknown };
  os?: { name?: string };
  [field: string]: unknown;
}

/**
 * Fills in the hardening the template leaves unset: the runtime's default
 * seccomp profile for the Pod, and no privilege escalation in containers that
 * may go without it. What the template sets always wins, so an autoscaler that
 * needs more says so, and Pod Security admission judges what it asked for.
 */
export function withSecurityDefaults(spec: PodSpec): PodSpec {
  // Windows Pods may not set seccomp profiles.
  const linux = spec.os?.name !== "windows";
  const podContext = spec.securityContext ?? {};
  return {
    ...spec,
    ...(linux && !podContext.seccompProfile
      ? { securityContext: { ...podContext, seccompProfile: { type: "RuntimeDefault" } } }
      : {}),
    containers: spec.containers.map((c) => hardenedContainer(c, linux)),
    ...(spec.initContainers
      ? { initContainers: spec.initContainers.map((c) => hardenedContainer(c, linux)) }
      : {}),
  };
}

function hardenedContainer(c: Container, linux: boolean): Container {
  const ctx = c.securityContext ?? {};
  if (!linux || ctx.allowPrivilegeEscalation !== undefined || !mayDropEscalation(c)) return c;
  return { ...c, securityContext: { ...ctx, allowPrivilegeEscalation: false } };
}

/**
 * The apiserver refuses allowPrivilegeEscalation: false together with
 * privileged: true or an added CAP_SYS_ADMIN, so those containers are left as
 * the template says.
 */
function mayDropEscalation(c: Container): boolean {
  const ctx = c.securityContext ?? {};
  if (ctx.privileged === true) return false;
  const added = ctx.capabilities?.add ?? [];
  return !added.some((cap) => cap === "SYS_ADMIN" || cap === "CAP_SYS_ADMIN");
}

/** A short, stable hash of the Pod as built (before the hash annotation is added). */
export function podHash(pod: object): string {
  return createHash("sha256").update(canonicalJson(pod)).digest("hex").slice(0, 16);
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === "string",
    ),
  );
}
