// Replay: the recorded runs again, on a simulated clock (each record's own
// time), through the evaluate stage the caller gives (the user's current
// logic) and our decision (min/max, stabilisation, behavior), with the target
// following the replayed decisions. The evaluate stage gets exactly the input
// the original shape defines ({metrics, resource, runType}): the recorded
// metrics, and the recorded target with spec.replicas set to the replayed
// replica count, so logic that scales from the current count sees its own past.
import { decide, emptyHistory, recordScale, type History } from "../autoscaler/decide/decide.ts";
import type { Config } from "../autoscaler/config.ts";
import { decisionRules, type DecisionRule, type RunRecord } from "../autoscaler/recorder/record.ts";
import type { EvaluateInput, Evaluation, Metric, Resource, RunType } from "../autoscaler/stage-types.ts";

export type DecisionConfig = Pick<
  Config,
  "minReplicas" | "maxReplicas" | "downscaleStabilization" | "behavior"
>;

export interface Step {
  time: string;
  runType: RunType;
  metrics: Metric[] | null;
  /** What happened when the run was recorded; absent for a synthetic load (CSV). */
  recorded?: {
    current: number;
    evaluation?: number;
    /** The replicas the target had after the run: the decision when it scaled, else current. */
    replicas: number;
    scaled: boolean;
    failed?: string;
    /** The record holds less than the run saw (record.ts caps): the replay may differ for that. */
    cut: boolean;
  };
  replayed: {
    current: number;
    evaluation?: number;
    replicas: number;
    scaled: boolean;
    rules: DecisionRule[];
    reason: string;
    failed?: string;
  };
}

/** A run to replay: what the evaluate stage gets, and what was recorded of it. */
export interface ReplayRun {
  at: number;
  runType: RunType;
  resource: Resource;
  metrics: Metric[] | null;
  recorded?: Step["recorded"];
}

/** The records a replay can run again: real runs (not dry runs) that got their metrics. Pure. */
export function replayable(records: readonly RunRecord[]): ReplayRun[] {
  return records.flatMap((r) => {
    if (r.dryRun || r.metrics === undefined || r.current === undefined || r.resource === undefined) return [];
    const replicas = r.scaled && r.decision ? r.decision.replicas : r.current;
    return [
      {
        at: Date.parse(r.time),
        runType: r.runType,
        resource: r.resource,
        metrics: r.metrics,
        recorded: {
          current: r.current,
          ...(r.evaluation ? { evaluation: r.evaluation.targetReplicas } : {}),
          replicas,
          scaled: r.scaled,
          ...(r.failure ? { failed: r.failure.message } : {}),
          cut: (r.cuts?.length ?? 0) > 0,
        },
      },
    ];
  });
}

/** The recorded target as the replayed run sees it: spec.replicas is the replayed count. Pure. */
export function withReplicas(resource: Resource, replicas: number): Resource {
  const spec = resource["spec"];
  if (typeof spec !== "object" || spec === null || !("replicas" in spec)) return resource;
  return { ...resource, spec: { ...(spec as Record<string, unknown>), replicas } };
}

export interface ReplayOptions {
  runs: readonly ReplayRun[];
  config: DecisionConfig;
  /** The evaluate stage (and, when asked, its hooks); a throw is a failed run, as in the runtime. */
  evaluate: (input: EvaluateInput) => Promise<Evaluation>;
  /** The replicas before the first run (default: the first run's recorded current, else minReplicas). */
  startReplicas?: number;
  /** config.yaml's state.enabled: the evaluate stage gets `state` (null at first) and may return a new one. */
  state?: boolean;
}

/** Runs the decisions again, in order. Deterministic for a deterministic evaluate stage. */
export async function replay(opts: ReplayOptions): Promise<Step[]> {
  const { config } = opts;
  let current = opts.startReplicas ?? opts.runs[0]?.recorded?.current ?? config.minReplicas;
  let history: History = emptyHistory();
  let userState: unknown = null;
  const steps: Step[] = [];
  for (const run of opts.runs) {
    const input: EvaluateInput = {
      metrics: run.metrics,
      resource: withReplicas(run.resource, current),
      runType: run.runType,
      ...(opts.state ? { state: userState } : {}),
    };
    const base = {
      time: new Date(run.at).toISOString(),
      runType: run.runType,
      metrics: run.metrics,
      ...(run.recorded ? { recorded: run.recorded } : {}),
    };
    let evaluation: Evaluation;
    try {
      evaluation = await opts.evaluate(input);
    } catch (err) {
      const failed = err instanceof Error ? err.message : String(err);
      steps.push({
        ...base,
        replayed: { current, replicas: current, scaled: false, rules: [], reason: "the run failed", failed },
      });
      continue;
    }
    const decision = decide({
      evaluation: evaluation.targetReplicas,
      current,
      minReplicas: config.minReplicas,
      maxReplicas: config.maxReplicas,
      now: run.at,
      downscaleStabilizationSeconds: config.downscaleStabilization,
      ...(config.behavior ? { behavior: config.behavior } : {}),
      history,
    });
    history = decision.history;
    if (opts.state && "state" in evaluation) userState = evaluation.state;
    const before = current;
    if (decision.scale) {
      history = recordScale(history, run.at, before, decision.replicas);
      current = decision.replicas;
    }
    steps.push({
      ...base,
      replayed: {
        current: before,
        evaluation: evaluation.targetReplicas,
        replicas: current,
        scaled: decision.scale,
        rules: decisionRules(decision),
        reason: decision.reason,
      },
    });
  }
  return steps;
}
