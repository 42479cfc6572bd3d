// The flight recorder's record: one per run, scheduled or through the API,
// holding what `cpa replay` needs to run the evaluate stage and the decision
// again (the target as the stages saw it, the metrics as the stage returned
// them) and what came of it. Pure: the Autoscaler logs it and keeps it in the
// ring (ring.ts); `cpa record` and `cpa replay` read it back (parse.ts).
import type { Decision, DecisionTrace } from "../decide/decide.ts";
import type { Evaluation, Metric, Resource, RunType } from "../stage-types.ts";

/** Bumped when a field changes meaning; readers refuse versions they do not know. */
export const RECORD_VERSION = 1;

/** The largest metric value kept whole, in UTF-8 bytes; a longer one is cut and the cut recorded. */
export const METRIC_VALUE_CAP = 4096;
/** The largest target object kept whole, as JSON (after what `recorded` leaves out); past it, a summary. */
export const RESOURCE_CAP = 16384;

/** A rule that changed the replicas between the evaluation and the decision. */
export type DecisionRule = "minReplicas" | "maxReplicas" | "stabilization" | "policy" | "bounds" | "disabled";

/** Something the record holds less of than the run saw. */
export interface Cut {
  /** `resource`, `metrics[i].value`, or `evaluation.podsToRemove`. */
  path: string;
  /** Its size before the cut, in bytes. */
  bytes: number;
  cap: number;
  /** What was kept: the first names of podsToRemove are a prefix too. */
  kept: "prefix" | "summary";
}

export interface RunRecord {
  v: typeof RECORD_VERSION;
  /** When the run decided (or failed), RFC 3339 with milliseconds: the clock decisions are made on. */
  time: string;
  runType: RunType;
  dryRun: boolean;
  /** A shadow's run: it decided, and never writes /scale (`scaled` is false, `current` the target's own). */
  shadow?: true;
  /** The scale target, by reference. */
  target: { apiVersion?: string; kind: string; name: string; namespace: string };
  runMode: "per-resource" | "per-pod";
  /** spec.replicas from /scale when the run read it. */
  current?: number;
  /**
   * The target object the stages got as `resource`, without metadata.managedFields and
   * spec.template (a Pod template may carry env values; scaling logic rarely reads it), and
   * size-capped (see `cuts`).
   */
  resource?: Resource;
  /** What the metric stage returned; null in per-pod mode with no Pods. Absent when it never ran. */
  metrics?: Metric[] | null;
  /** What the evaluate stage returned. */
  evaluation?: Evaluation;
  decision?: {
    replicas: number;
    /** Whether it differs from current (a dry run decides but never writes). */
    scale: boolean;
    /** The rules that changed the evaluation, in the order they applied; [] when none did. */
    rules: DecisionRule[];
    reason: string;
    trace: DecisionTrace;
  };
  /** Whether /scale was written. */
  scaled: boolean;
  /** Why the run failed; the target was left as it was. */
  failure?: { step: "read-target" | "stage" | "update-scale" | "other"; stage?: string; message: string };
  /** What config.fallback did after this failed run. */
  fallback?: { failedRuns: number; replicas: number; current: number; scaled: boolean };
  /** Where the record holds less than the run saw. */
  cuts?: Cut[];
  durationMs: number;
}

/** What one run left behind: as much as it got to before it ended or failed. */
export interface RunSeen {
  current?: number;
  resource?: Resource;
  metrics?: Metric[] | null;
  evaluation?: Evaluation;
  decision?: Decision;
  /** When the decision was made (the clock stabilisation windows are kept on). */
  decidedAt?: number;
  scaled?: boolean;
}

export interface RecordInput {
  at: number;
  runType: RunType;
  dryRun: boolean;
  shadow?: boolean;
  target: RunRecord["target"];
  runMode: RunRecord["runMode"];
  seen: RunSeen;
  failure?: RunRecord["failure"];
  fallback?: RunRecord["fallback"];
  durationMs: number;
}

/** The rules a decision's trace shows at work, in the order the decision applies them. Pure. */
export function decisionRules(decision: Pick<Decision, "trace" | "reason">): DecisionRule[] {
  const { raw, afterClamp, afterStabilization, afterPolicies, final } = decision.trace;
  if (decision.reason.startsWith("autoscaling disabled")) return ["disabled"];
  const rules: DecisionRule[] = [];
  if (afterClamp !== raw) rules.push(afterClamp < raw ? "maxReplicas" : "minReplicas");
  if (afterStabilization !== afterClamp) rules.push("stabilization");
  if (afterPolicies !== afterStabilization) rules.push("policy");
  if (final !== afterPolicies) rules.push("bounds");
  return rules;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");

/** The first `cap` bytes of text, never splitting a character. Pure. */
function prefix(text: string, cap: number): string {
  const cut = Buffer.from(text, "utf8").subarray(0, cap).toString("utf8");
  // A character split at the cap decodes as U+FFFD: drop it.
  return cut.endsWith("\uFFFD") && !text.startsWith(cut) ? cut.slice(0, -1) : cut;
}

function cappedMetrics(metrics: Metric[] | null, cuts: Cut[]): Metric[] | null {
  if (metrics === null) return null;
  return metrics.map((m, i) => {
    if (m.value === undefined) return m;
    const bytes = utf8Bytes(m.value);
    if (bytes <= METRIC_VALUE_CAP) return m;
    cuts.push({ path: `metrics[${i}].value`, bytes, cap: METRIC_VALUE_CAP, kept: "prefix" });
    return { resource: m.resource, value: prefix(m.value, METRIC_VALUE_CAP) };
  });
}

/** The target as a record keeps it: no managedFields, no Pod template. Pure. */
export function recorded(resource: Resource): Resource {
  const { managedFields: _fields, ...metadata } = resource.metadata ?? {};
  const spec = resource["spec"];
  const out: Resource = { ...resource, ...(resource.metadata ? { metadata } : {}) };
  if (typeof spec === "object" && spec !== null && "template" in spec) {
    const { template: _template, ...rest } = spec as Record<string, unknown>;
    out["spec"] = rest;
  }
  return out;
}

/** What a summary of the target keeps: what scaling logic reads most. */
function summary(resource: Resource): Resource {
  const spec = resource["spec"] as Record<string, unknown> | undefined;
  const status = resource["status"] as Record<string, unknown> | undefined;
  const pick = (o: Record<string, unknown> | undefined, keys: string[]): Record<string, unknown> =>
    Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, o?.[k]]));
  const meta = resource.metadata ?? {};
  return {
    ...(resource.apiVersion ? { apiVersion: resource.apiVersion } : {}),
    ...(resource.kind ? { kind: resource.kind } : {}),
    metadata: pick(meta, ["name", "namespace", "uid", "labels", "annotations", "generation"]),
    spec: pick(spec, ["replicas", "selector"]),
    status: pick(status, ["replicas", "readyReplicas", "availableReplicas", "updatedReplicas"]),
  };
}

/** targetReplicas, and podsToRemove as the first names that fit in METRIC_VALUE_CAP bytes. Pure. */
function cappedEvaluation(evaluation: Evaluation, cuts: Cut[]): Evaluation {
  const names = evaluation.podsToRemove;
  if (names === undefined) return { targetReplicas: evaluation.targetReplicas };
  const bytes = utf8Bytes(JSON.stringify(names));
  if (bytes <= METRIC_VALUE_CAP) return { targetReplicas: evaluation.targetReplicas, podsToRemove: names };
  cuts.push({ path: "evaluation.podsToRemove", bytes, cap: METRIC_VALUE_CAP, kept: "prefix" });
  const kept: string[] = [];
  let size = 2;
  for (const name of names) {
    size += utf8Bytes(JSON.stringify(name)) + 1;
    if (size > METRIC_VALUE_CAP) break;
    kept.push(name);
  }
  return { targetReplicas: evaluation.targetReplicas, podsToRemove: kept };
}

function cappedResource(resource: Resource, cuts: Cut[]): Resource {
  const kept = recorded(resource);
  const bytes = utf8Bytes(JSON.stringify(kept));
  if (bytes <= RESOURCE_CAP) return kept;
  cuts.push({ path: "resource", bytes, cap: RESOURCE_CAP, kept: "summary" });
  return summary(kept);
}

/** One run's record, within the caps. Pure. */
export function runRecord(input: RecordInput): RunRecord {
  const { seen } = input;
  const cuts: Cut[] = [];
  const resource = seen.resource === undefined ? undefined : cappedResource(seen.resource, cuts);
  const metrics = seen.metrics === undefined ? undefined : cappedMetrics(seen.metrics, cuts);
  const d = seen.decision;
  return {
    v: RECORD_VERSION,
    time: new Date(input.at).toISOString(),
    runType: input.runType,
    dryRun: input.dryRun,
    ...(input.shadow ? { shadow: true as const } : {}),
    target: input.target,
    runMode: input.runMode,
    ...(seen.current !== undefined ? { current: seen.current } : {}),
    ...(resource !== undefined ? { resource } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
    ...(seen.evaluation !== undefined ? { evaluation: cappedEvaluation(seen.evaluation, cuts) } : {}),
    ...(d
      ? {
          decision: {
            replicas: d.replicas,
            scale: d.scale,
            rules: decisionRules(d),
            reason: d.reason,
            trace: d.trace,
          },
        }
      : {}),
    scaled: seen.scaled ?? false,
    ...(input.failure ? { failure: input.failure } : {}),
    ...(input.fallback ? { fallback: input.fallback } : {}),
    ...(cuts.length > 0 ? { cuts } : {}),
    durationMs: Math.round(input.durationMs * 10) / 10,
  };
}
