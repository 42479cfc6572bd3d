// Which Pods go on a scale-down. The evaluate stage may name, beside
// targetReplicas, the Pods it would remove first (podsToRemove). Kubernetes has
// no way to ask a ReplicaSet for particular Pods, but its controller deletes
// the Pods with the lowest controller.kubernetes.io/pod-deletion-cost first
// (best effort: it still prefers Pods that are not ready or not scheduled).
// So before writing /scale the autoscaler gives the Pods that should go a
// negative cost, the first named lowest, and afterwards clears the costs it set
// on Pods that stayed. Pure: the cycle lists the Pods and writes the plan.
import { DELETION_COST_ANNOTATION } from "../api/names.ts";
import type { KubeObject } from "../kube/objects.ts";

export { DELETION_COST_ANNOTATION };

/** The part of a Pod the plan reads. */
export type PodLike = Pick<KubeObject, "metadata">;

/** One annotation write: a cost to set, or null to remove ours. */
export interface CostChange {
  pod: string;
  cost: string | null;
}

export interface CostPlan {
  changes: CostChange[];
  /** The Pods that hold a cost of ours once the changes are written. */
  marked: string[];
  /** Names that could not be marked, and why; logged, never fatal. */
  warnings: string[];
}

export interface CostPlanInput {
  /** The target's kind and name; only ReplicaSet-based targets honour the cost. */
  target: { kind: string; name: string; group: string };
  /** The Pods the target's selector picks, as listed. */
  pods: readonly PodLike[];
  /** From the evaluate stage, in order: the first should go first. */
  podsToRemove: readonly string[];
  /** Replicas now, and what the run sets. */
  current: number;
  desired: number;
  /** Pods given a cost by an earlier run (CycleState.costMarked). */
  marked: readonly string[];
}

/** Kinds whose Pods belong to a ReplicaSet, the controller that reads the cost. */
const REPLICA_SET_BASED = new Set(["Deployment", "ReplicaSet"]);

/**
 * Whether the Pod's controller is the target's ReplicaSet: the target itself,
 * or, for a Deployment, its ReplicaSet `<deployment>-<pod-template-hash>`. A
 * selector can match Pods of other workloads; their costs are not ours to set.
 */
export function ownedByTarget(pod: PodLike, target: CostPlanInput["target"]): boolean {
  const hash = pod.metadata?.labels?.["pod-template-hash"];
  return (pod.metadata?.ownerReferences ?? []).some(
    (r) =>
      r.controller === true &&
      r.kind === "ReplicaSet" &&
      r.apiVersion.startsWith("apps/") &&
      (target.kind === "ReplicaSet"
        ? r.name === target.name
        : hash !== undefined && r.name === `${target.name}-${hash}`),
  );
}

const costOf = (pod: PodLike): string | undefined => pod.metadata?.annotations?.[DELETION_COST_ANNOTATION];

/** Whether the target's kind honours the cost at all; a warning when it does not. */
function unsupported(target: CostPlanInput["target"]): string | undefined {
  if (target.group === "apps" && REPLICA_SET_BASED.has(target.kind)) return undefined;
  if (target.group === "apps" && target.kind === "StatefulSet")
    return "podsToRemove is ignored for a StatefulSet: it removes the Pods with the highest ordinals, whatever their cost";
  return `podsToRemove is ignored for a ${target.kind}: only a Deployment's or ReplicaSet's Pods honour ${DELETION_COST_ANNOTATION}`;
}

/** The first `removing` named Pods that are the target's, each once; warnings for the rest. */
function choose(input: CostPlanInput, removing: number, warnings: string[]): string[] {
  const byName = new Map(input.pods.map((p) => [p.metadata?.name ?? "", p]));
  const chosen: string[] = [];
  for (const name of input.podsToRemove) {
    if (chosen.length === removing) break;
    const pod = byName.get(name);
    if (!pod) warnings.push(`podsToRemove names ${name}, which is not one of the target's Pods now`);
    else if (!ownedByTarget(pod, input.target))
      warnings.push(`podsToRemove names ${name}, which the target's ReplicaSet does not own`);
    else if (!chosen.includes(name)) chosen.push(name);
  }
  return chosen;
}

/**
 * On a scale-down by n, the first n named Pods of the target get costs -n..-1
 * (the first named, lowest, goes first); every Pod an earlier run marked that is
 * still there and not chosen now gets its cost removed. Unchanged costs are not
 * written again. Pure.
 */
export function planDeletionCosts(input: CostPlanInput): CostPlan {
  const warnings: string[] = [];
  const removing = Math.max(0, input.current - input.desired);
  const problem = input.podsToRemove.length > 0 && removing > 0 ? unsupported(input.target) : undefined;
  if (problem) warnings.push(problem);
  const chosen = problem || removing === 0 ? [] : choose(input, removing, warnings);
  const wanted = new Map(chosen.map((name, i) => [name, String(i - chosen.length)]));
  const changes: CostChange[] = [];
  for (const pod of input.pods) {
    const name = pod.metadata?.name ?? "";
    const cost = wanted.get(name);
    if (cost !== undefined) {
      if (costOf(pod) !== cost) changes.push({ pod: name, cost });
    } else if (input.marked.includes(name) && costOf(pod) !== undefined)
      changes.push({ pod: name, cost: null });
  }
  return { changes, marked: [...wanted.keys()], warnings };
}
