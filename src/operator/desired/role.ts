import type { V1PolicyRule, V1Role } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../api/custom-pod-autoscaler.ts";
import { GROUP, PLURAL } from "../../api/names.ts";
import type { ResolvedResource } from "../../kube/discovery.ts";
import { effectiveSpec } from "../spec.ts";
import { ownedMetadata } from "./meta.ts";

/**
 * The least the autoscaler needs: read its target and change it through /scale
 * (that one object only), read pods (per-pod metrics), report status and events
 * on its own CPA, and, when asked for, the metrics APIs and reading Argo Rollouts. When
 * the target's kind cannot be resolved yet, the target rules are left out; the
 * operator reports that and retries.
 */
export function desiredRole(cpa: CustomPodAutoscaler, target: ResolvedResource | undefined): V1Role {
  const spec = effectiveSpec(cpa.spec);
  const targetName = cpa.spec.scaleTargetRef.name;
  const rules: V1PolicyRule[] = [];
  if (target) {
    rules.push(
      {
        apiGroups: [target.group],
        resources: [target.resource],
        resourceNames: [targetName],
        verbs: ["get"],
      },
      {
        apiGroups: [target.group],
        resources: [`${target.resource}/scale`],
        resourceNames: [targetName],
        verbs: ["get", "update", "patch"],
      },
    );
  }
  rules.push(
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
    { apiGroups: [GROUP], resources: [PLURAL], resourceNames: [cpa.metadata.name], verbs: ["get"] },
    {
      apiGroups: [GROUP],
      resources: [`${PLURAL}/status`],
      resourceNames: [cpa.metadata.name],
      verbs: ["get", "patch", "update"],
    },
    { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  );
  if (spec.roleRequiresMetricsServer) rules.push(...METRICS_RULES);
  if (spec.roleRequiresArgoRollouts) rules.push(...ARGO_ROLLOUTS_RULES);
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: ownedMetadata(cpa), rules };
}

export const METRICS_RULES: readonly V1PolicyRule[] = [
  { apiGroups: ["metrics.k8s.io"], resources: ["pods"], verbs: ["get", "list"] },
  {
    apiGroups: ["custom.metrics.k8s.io", "external.metrics.k8s.io"],
    resources: ["*"],
    verbs: ["get", "list"],
  },
];

/**
 * Reading Argo Rollouts in the namespace. Scaling is granted by the target
 * rules, for the target alone, as for every other kind: the original granted
 * `*` on every Rollout and its /scale here.
 */
export const ARGO_ROLLOUTS_RULES: readonly V1PolicyRule[] = [
  { apiGroups: ["argoproj.io"], resources: ["rollouts"], verbs: ["get", "list", "watch"] },
];
