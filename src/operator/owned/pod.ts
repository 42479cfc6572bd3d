// The autoscaler Pod, built from spec.template. It is never updated in place:
// a hash of what builds it stands for its spec, and a Pod whose hash differs
// (or that has ended) is deleted and made again. While the CPA is paused there
// is no Pod, and the target is held at the paused replicas.
import type { V1Pod } from "@kubernetes/client-node";
import { Reason } from "../../api/conditions.ts";
import { POD_HASH_ANNOTATION } from "../../api/names.ts";
import type { ResolvedResource } from "../../kube/discovery.ts";
import { isInvalid, isNamespaceTerminating, isNotFound, isTerminal } from "../../kube/http.ts";
import { Pods } from "../../kube/writes.ts";
import { desiredPod, podName } from "../desired/pod.ts";
import { CONTROLLER_INDEX, ownershipOf } from "../ownership.ts";
import {
  apiMessage,
  cached,
  createOrRead,
  deleteIgnoringGone,
  isOwnershipProblem,
  justCreated,
  type Pass,
} from "../pass.ts";
import { pauseOf } from "../pause.ts";
import { podHealth } from "../pod-health.ts";
import type { PodState } from "../status.ts";
import type { Found, OwnedKind } from "./kind.ts";

/** Of a Pod's status, what says whether the autoscaler runs (operator/pod-health.ts). */
export const POD_STATUS_FIELDS = [
  "phase",
  "conditions",
  "containerStatuses",
  "initContainerStatuses",
] as const;

export const podKind: OwnedKind = {
  kind: "Pod",
  type: Pods,
  flag: "provisionPod",
  // The Pod's spec is never read: the hash annotation stands for it.
  kept: { status: POD_STATUS_FIELDS },
  compared: [],
  mend: { by: "replace" },
  deletes: true,
  verbs: ["get", "list", "watch", "create", "delete"],
  after: ["ServiceAccount"],
  advice: "Delete it, or set spec.template.metadata.name to another name",
  rejected: Reason.PodRejected,
  step: async (pass, found) => {
    found.pod = await reconcilePod(pass, found);
  },
};

async function reconcilePod(pass: Pass, found: Found): Promise<PodState> {
  const { cpa } = pass;
  const { serviceAccount } = found;
  const provision = found.flags.provisionPod;
  const pause = pauseOf(cpa.metadata.annotations);
  if (pause.kind === "invalid") {
    pass.problems.push({
      terminal: true,
      reason: Reason.InvalidPausedReplicas,
      message: `annotation v1.custompodautoscaler.com/paused-replicas must be a whole number of replicas, got "${pause.value}"; autoscaling continues`,
    });
  }
  const name = podName(cpa);
  if (pause.kind === "paused") {
    await deleteOurPods(pass, undefined, "autoscaling is paused");
    await holdTarget(pass, found.target, pause.replicas);
    return { state: "paused", replicas: pause.replicas };
  }
  if (provision && serviceAccount === undefined) {
    await deleteOurPods(pass, undefined, "it may not run as its ServiceAccount");
    return { state: "withheld" };
  }
  // Pods we made under another name: spec.template.metadata.name changed.
  await deleteOurPods(pass, name, "the autoscaler Pod was renamed");
  if (!provision || serviceAccount === undefined) return { state: "not-provisioned" };
  const desired = desiredPod(cpa, serviceAccount);
  const live = cached(pass, podKind, name) as V1Pod | undefined;
  if (live) return await livePodState(pass, live, desired, name);
  if (justCreated(pass, podKind, desired)) return { state: "pending", name, message: pendingMessage(name) };
  return await createPod(pass, desired, name);
}

/** Deletes the Pods this CPA made, but the one named keep. */
async function deleteOurPods(pass: Pass, keep: string | undefined, because: string): Promise<void> {
  const ns = pass.cpa.metadata.namespace;
  const ours =
    pass.deps.owned.get(podKind.kind)?.byIndex(CONTROLLER_INDEX, pass.cpa.metadata.uid ?? "") ?? [];
  for (const pod of ours) {
    const name = pod.metadata?.name;
    if (pod.metadata?.namespace !== ns || name === keep || pod.metadata.deletionTimestamp) continue;
    if (ownershipOf(pod, pass.cpa) !== "ours") continue;
    await deleteIgnoringGone(pass, podKind, pod);
    pass.actions.push({ reason: "PodDeleted", message: `Deleted Pod ${name ?? ""}: ${because}` });
  }
}

async function createPod(pass: Pass, desired: V1Pod, name: string): Promise<PodState> {
  try {
    const existing = await createOrRead(pass, podKind, desired);
    if (existing) isOwnershipProblem(pass, existing, podKind);
  } catch (err) {
    if (!isTerminal(err) || isNamespaceTerminating(err)) throw err;
    pass.problems.push({
      reason: podKind.rejected,
      message: `Pod ${name} was rejected: ${apiMessage(err)}`,
      // Invalid as built from spec.template; a 403 (Pod Security, a quota) may pass later.
      ...(isInvalid(err) ? { terminal: true } : {}),
    });
  }
  return { state: "pending", name, message: pendingMessage(name) };
}

async function livePodState(pass: Pass, live: V1Pod, desired: V1Pod, name: string): Promise<PodState> {
  if (live.metadata?.deletionTimestamp || ownershipOf(live, pass.cpa) === "previous-incarnation") {
    return { state: "replacing", name, message: `Waiting for the old autoscaler Pod ${name} to go away` };
  }
  if (isOwnershipProblem(pass, live, podKind)) {
    return { state: "pending", name, message: `Pod ${name} belongs to someone else` };
  }
  const replaceBecause = whyReplace(live, desired);
  if (replaceBecause) {
    await deleteIgnoringGone(pass, podKind, live);
    pass.log.info({ pod: name, because: replaceBecause }, "Replacing autoscaler Pod");
    pass.actions.push({
      reason: "PodReplaced",
      message: `Replacing autoscaler Pod ${name}: ${replaceBecause}`,
    });
    return { state: "replacing", name, message: `Replacing the autoscaler Pod ${name}: ${replaceBecause}` };
  }
  const health = podHealth(live, pass.deps.now().getTime());
  if (health.state === "settling") {
    // Look again when the restart is old enough to count as running.
    pass.requeueAfterMs = Math.min(pass.requeueAfterMs ?? Infinity, health.recheckInMs + 1000);
  }
  return health.state === "running" ? { state: "running", name } : { ...health, name };
}

export function pendingMessage(name: string): string {
  return `Waiting for the autoscaler Pod ${name} to run (phase Pending)`;
}

/** A running autoscaler is replaced only when what builds it changed, or it has ended. */
function whyReplace(live: V1Pod, desired: V1Pod): string | undefined {
  const liveHash = live.metadata?.annotations?.[POD_HASH_ANNOTATION];
  if (liveHash !== desired.metadata?.annotations?.[POD_HASH_ANNOTATION]) return "its spec changed";
  const phase = live.status?.phase;
  if (phase === "Failed" || phase === "Succeeded")
    return `it has ${phase === "Failed" ? "failed" : "exited"}`;
  return undefined;
}

/** While paused, the target is held at the annotated replicas (written only when it differs). */
async function holdTarget(pass: Pass, target: ResolvedResource | undefined, replicas: number): Promise<void> {
  if (!target) return;
  const { cpa, deps } = pass;
  const ref = cpa.spec.scaleTargetRef;
  try {
    const scale = await deps.writer.getScale(target, cpa.metadata.namespace, ref.name);
    if (scale.spec.replicas === replicas) return;
    await deps.writer.setReplicas(target, cpa.metadata.namespace, ref.name, replicas);
    pass.actions.push({
      reason: "Paused",
      message: `Scaled ${ref.kind} ${ref.name} to ${replicas} replicas while paused`,
    });
  } catch (err) {
    if (!isTerminal(err) && !isNotFound(err)) throw err;
    pass.problems.push({
      reason: Reason.ProvisionFailed,
      message: `could not hold ${ref.kind} ${ref.name} at ${replicas} replicas: ${apiMessage(err)}`,
    });
  }
}
