// The operator's part of the CPA status, computed purely from what the reconcile
// found and did. The autoscaler owns the other fields (replicas, scale time, its
// own conditions); server-side apply keeps each writer to its own fields.
import type { Condition } from "../api/conditions.ts";
import { ConditionType, Reason } from "../api/conditions.ts";
import type { CustomPodAutoscaler, CustomPodAutoscalerStatus } from "../api/custom-pod-autoscaler.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import { OWNED_KINDS } from "./owned/index.ts";
import { effectiveSpec } from "./spec.ts";

/** Why provisioning is not complete, in words a user can act on. */
export interface Problem {
  reason: string;
  message: string;
  /**
   * The CPA cannot work as it is written (or as things outside the operator's
   * sight are): retrying soon cannot help, changing the CPA can.
   */
  terminal?: boolean;
}

export type PodState =
  | { state: "running"; name: string }
  | { state: "pending"; name: string; message: string }
  /** Running, but a container is not: waiting (CrashLoopBackOff...), terminated, or not ready. */
  | { state: "not-ready"; name: string; message: string }
  /** Ready again, but restarted too recently to count as running. */
  | { state: "settling"; name: string; message: string }
  | { state: "replacing"; name: string; message: string }
  | { state: "paused"; replicas: number }
  /** Not run: provisioning failed in a way that makes running it unsafe (reported as a problem). */
  | { state: "withheld" }
  | { state: "not-provisioned" };

export interface Outcome {
  problems: Problem[];
  pod: PodState;
  /** What is wrong with spec.config (operator/config-check.ts); never stops the Pod. */
  configProblems?: readonly string[];
}

/** The fields of the status that the operator writes. */
export type OperatorStatus = Pick<
  CustomPodAutoscalerStatus,
  "observedGeneration" | "reference" | "podName"
> & {
  conditions: Condition[];
};

const OPERATOR_CONDITIONS: readonly string[] = [
  ConditionType.Provisioned,
  ConditionType.Ready,
  ConditionType.ConfigValid,
];

export function computeStatus(cpa: CustomPodAutoscaler, outcome: Outcome, now: Date): OperatorStatus {
  const generation = cpa.metadata.generation ?? 0;
  const previous = cpa.status?.conditions ?? [];
  const condition = (type: string, status: Condition["status"], reason: string, message: string): Condition =>
    withTransitionTime(previous, { type, status, reason, message, observedGeneration: generation }, now);

  const [first] = outcome.problems;
  const provisioned = first
    ? condition(
        ConditionType.Provisioned,
        "False",
        first.reason,
        outcome.problems.map((p) => p.message).join("; "),
      )
    : condition(ConditionType.Provisioned, "True", Reason.Provisioned, provisionedMessage(cpa));
  const ready = first
    ? condition(ConditionType.Ready, "False", first.reason, first.message)
    : readyCondition(outcome.pod, condition);
  const ref = cpa.spec.scaleTargetRef;
  const podName = "name" in outcome.pod ? outcome.pod.name : undefined;
  return {
    observedGeneration: generation,
    reference: `${ref.kind}/${ref.name}`,
    ...(podName ? { podName } : {}),
    conditions: [provisioned, ready, configCondition(outcome.configProblems ?? [], condition)],
  };
}

function configCondition(
  problems: readonly string[],
  condition: (type: string, status: Condition["status"], reason: string, message: string) => Condition,
): Condition {
  return problems.length > 0
    ? condition(
        ConditionType.ConfigValid,
        "False",
        Reason.InvalidConfig,
        `spec.config: ${problems.join("; ")}. The autoscaler will refuse this configuration at start, unless its image's config.yaml or runtime makes it valid`,
      )
    : condition(
        ConditionType.ConfigValid,
        "True",
        Reason.ConfigValid,
        "The spec.config entries pass the runtime's checks (the image's config.yaml is checked by the autoscaler at start)",
      );
}

function readyCondition(
  pod: PodState,
  condition: (type: string, status: Condition["status"], reason: string, message: string) => Condition,
): Condition {
  switch (pod.state) {
    case "running":
      return condition(
        ConditionType.Ready,
        "True",
        Reason.AutoscalerRunning,
        `The autoscaler Pod ${pod.name} is running`,
      );
    case "pending":
      return condition(ConditionType.Ready, "False", Reason.PodPending, pod.message);
    case "not-ready":
      return condition(ConditionType.Ready, "False", Reason.AutoscalerNotReady, pod.message);
    case "settling":
      return condition(ConditionType.Ready, "False", Reason.AutoscalerRestarting, pod.message);
    case "replacing":
      return condition(ConditionType.Ready, "False", Reason.PodReplacing, pod.message);
    case "paused":
      return condition(
        ConditionType.Ready,
        "False",
        Reason.Paused,
        `Autoscaling is paused: the target is held at ${pod.replicas} replicas (remove the annotation v1.custompodautoscaler.com/paused-replicas to resume)`,
      );
    case "withheld":
      return condition(
        ConditionType.Ready,
        "False",
        Reason.ProvisionFailed,
        "The autoscaler Pod is not run until provisioning succeeds",
      );
    case "not-provisioned":
      return condition(
        ConditionType.Ready,
        "Unknown",
        Reason.PodNotProvisioned,
        "provisionPod is false: running the autoscaler Pod is up to you",
      );
  }
}

function provisionedMessage(cpa: CustomPodAutoscaler): string {
  const flags = effectiveSpec(cpa.spec);
  const made = OWNED_KINDS.filter((k) => flags[k.flag]).map((k) => k.kind);
  return made.length
    ? `Provisioned ${made.join(", ")}`
    : "Nothing to provision: every provision flag is false";
}

/** Keeps the previous lastTransitionTime unless the condition's status changed. */
function withTransitionTime(
  previous: readonly Condition[],
  next: Omit<Condition, "lastTransitionTime">,
  now: Date,
): Condition {
  const old = previous.find((c) => c.type === next.type);
  const lastTransitionTime = old?.status === next.status ? old.lastTransitionTime : rfc3339(now);
  return { ...next, lastTransitionTime };
}

/** Kubernetes' metav1.Time has second precision. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Whether the live status already says what the operator would write. */
export function isStatusCurrent(live: CustomPodAutoscalerStatus | undefined, next: OperatorStatus): boolean {
  const mine = {
    observedGeneration: live?.observedGeneration,
    reference: live?.reference,
    podName: live?.podName,
    conditions: byType((live?.conditions ?? []).filter((c) => OPERATOR_CONDITIONS.includes(c.type))),
  };
  // Server-side apply merges conditions by type, so their order on the server is not ours.
  return (
    canonicalJson(mine) ===
    canonicalJson({ podName: undefined, ...next, conditions: byType(next.conditions) })
  );
}

function byType(conditions: readonly Condition[]): Condition[] {
  return [...conditions].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}
