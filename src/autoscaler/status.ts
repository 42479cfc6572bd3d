// The autoscaler's part of the CPA status: replicas, the last scale time, the
// latest decision trace, and the HPA's condition types. Computed purely from a
// run's outcome (or its failure); written only when it changed.
import type { Condition } from "../api/conditions.ts";
import { ConditionType } from "../api/conditions.ts";
import type { CustomPodAutoscalerStatus, PersistedHistory } from "../api/custom-pod-autoscaler.ts";
import { KubernetesMetricsError, type CycleOutcome } from "./cycle.ts";
import { StageError } from "./stages.ts";

export type AutoscalerStatus = Pick<
  CustomPodAutoscalerStatus,
  "currentReplicas" | "desiredReplicas" | "lastScaleTime" | "decision" | "shadow" | "history"
> & { conditions: Condition[] };

/** Which step of a run failed, for the conditions. */
export type FailedStep = "read-target" | "update-scale" | "stage";

/** What config.fallback did after a failed run. */
export interface FallbackTaken {
  /** Runs that failed in a row, this one included. */
  failedRuns: number;
  /** fallback.replicas, clamped to min/max. */
  replicas: number;
  /** The target's replicas before. */
  current: number;
  /** Whether /scale was written (not when already there, nor in a shadow). */
  scaled: boolean;
}

export interface RunReport {
  outcome?: CycleOutcome;
  failure?: { step: FailedStep; error: Error };
  fallback?: FallbackTaken;
  /** Set when autoscaling is disabled for the run (target at 0 while minReplicas > 0). */
  disabled?: boolean;
  /** What status.history should hold after the run (durable.ts); the reporter coalesces its writes. */
  history?: PersistedHistory;
}

export function autoscalerStatus(
  report: RunReport,
  previous: AutoscalerStatus | undefined,
  now: Date,
  generation: number,
): AutoscalerStatus {
  const at = (type: string, status: Condition["status"], reason: string, message: string): Condition => {
    const old = previous?.conditions.find((c) => c.type === type);
    const lastTransitionTime =
      old?.status === status ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z");
    return { type, status, reason, message, observedGeneration: generation, lastTransitionTime };
  };
  const keep = (type: string): Condition | undefined => previous?.conditions.find((c) => c.type === type);
  const { outcome, failure } = report;
  if (!outcome && report.fallback)
    return fallbackStatus(report.fallback, failure?.error, previous, now, at, keep);
  if (!outcome) return failureStatus(failure, previous, at, keep);
  const { decision, target } = outcome;
  const trace = decision.trace;
  return {
    currentReplicas: outcome.scaled ? decision.replicas : target.current,
    desiredReplicas: decision.replicas,
    ...(outcome.scaled ? { lastScaleTime: now.toISOString().replace(/\.\d{3}Z$/, "Z") } : pick(previous)),
    ...(outcome.shadow ? { shadow: { divergence: decision.replicas - target.current } } : {}),
    decision: {
      evaluation: trace.raw,
      afterClamp: trace.afterClamp,
      afterStabilization: trace.afterStabilization,
      afterPolicies: trace.afterPolicies,
      desired: decision.replicas,
      reason: decision.reason,
    },
    conditions: [
      ableToScale(outcome, at),
      report.disabled
        ? at(
            ConditionType.ScalingActive,
            "False",
            "ScalingDisabled",
            "Autoscaling is disabled while the target has 0 replicas and minReplicas is above 0",
          )
        : at(
            ConditionType.ScalingActive,
            "True",
            "ValidMetricFound",
            "The metric and evaluate stages produced a replica count",
          ),
      decision.limited
        ? at(ConditionType.ScalingLimited, "True", limitedReason(outcome), decision.reason)
        : at(
            ConditionType.ScalingLimited,
            "False",
            "DesiredWithinRange",
            "The desired replica count is within the acceptable range",
          ),
    ],
  };
}

type At = (type: string, status: Condition["status"], reason: string, message: string) => Condition;

/** AbleToScale after a run that decided: a shadow's own reason, a scale, or ready for one. */
function ableToScale(outcome: CycleOutcome, at: At): Condition {
  const { decision } = outcome;
  return outcome.shadow
    ? at(
        ConditionType.AbleToScale,
        "True",
        "ShadowMode",
        `A shadow (annotation custompodautoscaler.com/shadow): it would set the target to ${decision.replicas} replicas, and never writes /scale`,
      )
    : outcome.scaled
      ? at(
          ConditionType.AbleToScale,
          "True",
          "SucceededRescale",
          `Set the target to ${decision.replicas} replicas`,
        )
      : at(
          ConditionType.AbleToScale,
          "True",
          "ReadyForNewScale",
          "The target's /scale can be read and updated",
        );
}

function failureStatus(
  failure: RunReport["failure"],
  previous: AutoscalerStatus | undefined,
  at: At,
  keep: (type: string) => Condition | undefined,
): AutoscalerStatus {
  const error = failure?.error;
  const message = error?.message ?? "unknown failure";
  const conditions =
    failure?.step === "stage"
      ? [
          keep(ConditionType.AbleToScale),
          at(ConditionType.ScalingActive, "False", stageReason(error), message),
          keep(ConditionType.ScalingLimited),
        ]
      : [
          at(
            ConditionType.AbleToScale,
            "False",
            failure?.step === "update-scale" ? "FailedUpdateScale" : "FailedGetScale",
            message,
          ),
          keep(ConditionType.ScalingActive),
          keep(ConditionType.ScalingLimited),
        ];
  return { ...carried(previous), conditions: conditions.filter((c): c is Condition => c !== undefined) };
}

function fallbackStatus(
  fb: FallbackTaken,
  error: Error | undefined,
  previous: AutoscalerStatus | undefined,
  now: Date,
  at: At,
  keep: (type: string) => Condition | undefined,
): AutoscalerStatus {
  const held = fb.scaled ? fb.replicas : fb.current;
  return {
    ...carried(previous),
    currentReplicas: held,
    desiredReplicas: fb.replicas,
    ...(fb.scaled ? { lastScaleTime: now.toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
    conditions: [
      keep(ConditionType.AbleToScale),
      at(
        ConditionType.ScalingActive,
        "False",
        "FallbackActive",
        `${fb.failedRuns} runs failed in a row, so the target is held at fallback.replicas (${fb.replicas}) until a run succeeds: ${error?.message ?? "unknown failure"}`,
      ),
      keep(ConditionType.ScalingLimited),
    ].filter((c): c is Condition => c !== undefined),
  };
}

function stageReason(error: Error | undefined): string {
  if (error instanceof KubernetesMetricsError) return error.reason;
  if (!(error instanceof StageError)) return "FailedRun";
  if (error.stage === "metric") return "FailedGetMetrics";
  if (error.stage === "evaluate") return "FailedEvaluate";
  return "FailedHook";
}

function limitedReason(outcome: CycleOutcome): string {
  const { trace } = outcome.decision;
  // The current replicas were out of bounds and were brought back (behavior mode).
  if (trace.final !== trace.afterPolicies)
    return outcome.target.current > trace.final ? "TooManyReplicas" : "TooFewReplicas";
  if (trace.afterClamp !== trace.raw)
    return trace.raw > trace.afterClamp ? "TooManyReplicas" : "TooFewReplicas";
  if (trace.afterStabilization !== trace.afterClamp) return "ScaleStabilized";
  return trace.afterPolicies > trace.afterStabilization ? "ScaleDownLimit" : "ScaleUpLimit";
}

function carried(previous: AutoscalerStatus | undefined): Partial<AutoscalerStatus> {
  if (!previous) return {};
  const { conditions: _conditions, ...rest } = previous;
  return rest;
}

function pick(previous: AutoscalerStatus | undefined): Pick<AutoscalerStatus, "lastScaleTime"> {
  return previous?.lastScaleTime ? { lastScaleTime: previous.lastScaleTime } : {};
}
