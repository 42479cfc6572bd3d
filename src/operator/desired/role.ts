import type { V1PolicyRule, V1Role } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../api/custom-pod-autoscaler.ts";
import { GROUP, isShadow, PLURAL } from "../../api/names.ts";
import type { ResolvedResource } from "../../kube/discovery.ts";
import { effectiveSpec, type EffectiveFlags } from "../spec.ts";
import { ownedMetadata } from "./meta.ts";

/** The spec flags that add rules to the Role. */
export type GrantFlag = keyof Pick<
  EffectiveFlags,
  "roleRequiresMetricsServer" | "roleRequiresArgoRollouts" | "roleRequiresPodDeletionCost"
>;

/**
 * One rule the CPA's Role can grant. The Role (desiredRole) and the admission
 * policy's checks (admission-policy.ts) are both made from ROLE_GRANTS, so the
 * policy checks that a CPA's author holds every right the Role hands its
 * autoscaler beyond the CPA itself.
 */
export type RoleGrant = {
  verbs: readonly string[];
  /** The spec flag that adds it; granted to every CPA when absent. */
  flag?: GrantFlag;
  /**
   * Left out of a shadow CPA's Role: its autoscaler never writes /scale. The
   * admission policy still checks it for a paused shadow, whose target the
   * operator holds at the paused replicas with its own rights.
   */
  notForShadow?: true;
  /** Why the autoscaler needs it, as the policy's denial says. */
  because: string;
} & (
  | {
      /** The object spec.scaleTargetRef names, by name: its group and resource come from discovery. */
      on: "target";
      subresource?: "scale";
    }
  | {
      on: "resources";
      apiGroups: readonly string[];
      resources: readonly string[];
      /**
       * Only the CPA's own object (by name), its status or its Events: not
       * checked, since users with Kubernetes' built-in edit role and cpa-edit,
       * which leave out /status, must still be able to create CPAs.
       */
      own?: true;
    }
);

const METRICS_BECAUSE = "roleRequiresMetricsServer grants the autoscaler the metrics APIs";

export const ROLE_GRANTS: readonly RoleGrant[] = [
  { on: "target", verbs: ["get"], because: "its autoscaler reads spec.scaleTargetRef, the stages' input" },
  {
    on: "target",
    subresource: "scale",
    verbs: ["get"],
    because: "its autoscaler reads the replicas of spec.scaleTargetRef",
  },
  {
    on: "target",
    subresource: "scale",
    verbs: ["update", "patch"],
    notForShadow: true,
    because:
      "its autoscaler scales spec.scaleTargetRef, and while it is paused the operator holds it at the paused-replicas annotation",
  },
  {
    on: "resources",
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["get", "list"],
    because:
      "its autoscaler lists the namespace's Pods to find its target's (per-pod runs, Kubernetes metrics)",
  },
  {
    // RBAC cannot narrow this to the target's Pods or to one annotation, and
    // patching a Pod's image runs code as any ServiceAccount of the namespace:
    // the cpa-pod-deletion-cost admission policy (pod-cost-policy.ts) narrows it.
    on: "resources",
    flag: "roleRequiresPodDeletionCost",
    notForShadow: true,
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["patch"],
    because:
      "roleRequiresPodDeletionCost lets its autoscaler set controller.kubernetes.io/pod-deletion-cost on its target's Pods",
  },
  { on: "resources", apiGroups: [GROUP], resources: [PLURAL], verbs: ["get"], own: true, because: "" },
  {
    on: "resources",
    apiGroups: [GROUP],
    resources: [`${PLURAL}/status`],
    verbs: ["get", "patch", "update"],
    own: true,
    because: "",
  },
  {
    on: "resources",
    apiGroups: ["", "events.k8s.io"],
    resources: ["events"],
    verbs: ["create", "patch"],
    own: true,
    because: "",
  },
  {
    on: "resources",
    flag: "roleRequiresMetricsServer",
    apiGroups: ["metrics.k8s.io"],
    resources: ["pods"],
    verbs: ["get", "list"],
    because: METRICS_BECAUSE,
  },
  {
    on: "resources",
    flag: "roleRequiresMetricsServer",
    apiGroups: ["custom.metrics.k8s.io", "external.metrics.k8s.io"],
    resources: ["*"],
    verbs: ["get", "list"],
    because: METRICS_BECAUSE,
  },
  {
    // Reading Rollouts in the namespace. Scaling is granted by the target
    // rules, for the target alone, as for every other kind: the original
    // granted `*` on every Rollout and its /scale here.
    on: "resources",
    flag: "roleRequiresArgoRollouts",
    apiGroups: ["argoproj.io"],
    resources: ["rollouts"],
    verbs: ["get", "list", "watch"],
    because: "roleRequiresArgoRollouts grants the autoscaler reading Argo Rollouts",
  },
];

function ruleOf(grant: RoleGrant, cpa: CustomPodAutoscaler, target: ResolvedResource | undefined) {
  if (grant.on === "resources") {
    const rule: V1PolicyRule = {
      apiGroups: [...grant.apiGroups],
      resources: [...grant.resources],
      verbs: [...grant.verbs],
    };
    // The CPA and its status, by name; Events cannot be narrowed so.
    if (grant.own && grant.apiGroups.includes(GROUP)) rule.resourceNames = [cpa.metadata.name];
    return rule;
  }
  if (!target) return undefined;
  return {
    apiGroups: [target.group],
    resources: [grant.subresource ? `${target.resource}/${grant.subresource}` : target.resource],
    resourceNames: [cpa.spec.scaleTargetRef.name],
    verbs: [...grant.verbs],
  };
}

/**
 * Rules on the same resources and names as one rule, their verbs in order:
 * a live CPA's /scale rule stays one rule (get, update, patch) as it always was,
 * so an upgrade rewrites no Role. Pure.
 */
function mergeSameResource(rules: V1PolicyRule[]): V1PolicyRule[] {
  const out: V1PolicyRule[] = [];
  const key = (r: V1PolicyRule): string => JSON.stringify([r.apiGroups, r.resources, r.resourceNames]);
  for (const rule of rules) {
    const same = out.find((r) => key(r) === key(rule));
    if (same) same.verbs = [...same.verbs, ...rule.verbs];
    else
      out.push({
        ...(rule.apiGroups ? { apiGroups: rule.apiGroups } : {}),
        ...(rule.resources ? { resources: rule.resources } : {}),
        ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}),
        verbs: [...rule.verbs],
      });
  }
  return out;
}

/**
 * The least the autoscaler needs (ROLE_GRANTS): read its target and change it
 * through /scale (that one object only; a shadow only reads it), read pods, report status and events
 * on its own CPA, and, when asked for, the metrics APIs and reading Argo
 * Rollouts. When the target's kind cannot be resolved yet, the target rules
 * are left out; the operator reports that and retries.
 */
export function desiredRole(cpa: CustomPodAutoscaler, target: ResolvedResource | undefined): V1Role {
  const spec = effectiveSpec(cpa.spec);
  const writesScale = !isShadow(cpa.metadata.annotations);
  const rules = mergeSameResource(
    ROLE_GRANTS.filter((g) => (!g.flag || spec[g.flag]) && (writesScale || !g.notForShadow))
      .map((g) => ruleOf(g, cpa, target))
      .filter((r) => r !== undefined),
  );
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: ownedMetadata(cpa), rules };
}

/** The fixed rules the spec flags add: the operator holds them in order to grant them. */
export const FLAGGED_RULES: readonly V1PolicyRule[] = ROLE_GRANTS.flatMap((g) =>
  g.on === "resources" && g.flag
    ? [{ apiGroups: [...g.apiGroups], resources: [...g.resources], verbs: [...g.verbs] }]
    : [],
);
