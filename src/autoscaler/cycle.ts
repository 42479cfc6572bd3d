// One autoscaler run, in the original's order: read the target, gather metrics
// (with hooks), evaluate (with hooks), decide, run the scale hooks, and write
// /scale only when the decision differs from the current replicas. The
// Autoscaler logs and records each run (recorder/record.ts).
import type { Logger } from "pino";
import { KubeApiError } from "../kube/http.ts";
import { stateLimit, type Config } from "./config.ts";
import { decide, recordScale, type Decision, type History } from "./decide/decide.ts";
import type { GatherResult } from "./k8smetrics/gather.ts";
import { planDeletionCosts } from "./deletion-cost.ts";
import { describeSpec } from "./k8smetrics/spec.ts";
import type { KubernetesMetric } from "./k8smetrics/types.ts";
import type { RunSeen } from "./recorder/record.ts";
import type { Evaluation, Metric, Resource, RunType } from "./stage-types.ts";
import { StageError, type Stages } from "./stages.ts";
import type { TargetClient, TargetState } from "./target.ts";

export interface CycleContext {
  config: Config;
  target: TargetClient;
  stages: Stages;
  log: Logger;
  now: () => number;
  /** Aborted when the autoscaler shuts down: stages are told, and no scale is written after it. */
  signal?: AbortSignal;
  /**
   * A shadow: every run decides and keeps its history as a live one does, but
   * runs no scale hook and never writes /scale (SHADOW_ANNOTATION).
   */
  shadow?: boolean;
  /** Reads config.kubernetesMetricSpecs for the target; absent when none are configured. */
  kubernetesMetrics?: (target: TargetState) => Promise<GatherResult>;
}

export interface CycleOutcome {
  target: TargetState;
  metrics: Metric[] | null;
  evaluation: Evaluation;
  decision: Decision;
  /** Whether /scale was written. */
  scaled: boolean;
  /** A shadow's run: the decision is what it would have set. */
  shadow?: boolean;
  /** Deletion costs written before the scale (podsToRemove), and what could not be. */
  deletionCosts?: { set: string[]; cleared: string[]; warnings: string[] };
}

/** Reading the target or writing its /scale failed; the message says which. */
export class TargetError extends Error {
  override readonly name = "TargetError";
  readonly step: "read-target" | "update-scale";
  constructor(step: "read-target" | "update-scale", message: string, cause: unknown) {
    super(message, { cause });
    this.step = step;
  }
}

/**
 * A Kubernetes metric could not be read and requireKubernetesMetrics is set.
 * `reason` is the HPA's event reason for the first failing spec's type.
 */
export class KubernetesMetricsError extends Error {
  override readonly name = "KubernetesMetricsError";
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message);
    this.reason = reason;
  }
}

/** What one run leaves behind for the next: the decision history, and the Pods it gave a deletion cost. */
export interface CycleState {
  history: History;
  costMarked?: string[];
  /** The stages' state (config.state), null when there is none; unused while state is off. */
  userState?: unknown;
}

/** `state` for the stages' input, only when config.state is on: off, the input is the original's. */
function stateInput(ctx: CycleContext, state: CycleState | undefined): { state?: unknown } {
  return stateLimit(ctx.config) === undefined ? {} : { state: state?.userState ?? null };
}

/** The metric stage: once for the target, or once per pod the target's selector picks. */
export async function gatherMetrics(
  ctx: CycleContext,
  target: TargetState,
  runType: RunType,
  state?: CycleState,
): Promise<Metric[] | null> {
  return (await gather(ctx, target, runType, state)).metrics;
}

type ListedPods = Awaited<ReturnType<TargetClient["pods"]>>;

/** gatherMetrics, and in per-pod mode the Pods it listed (the deletion costs need them too). */
async function gather(
  ctx: CycleContext,
  target: TargetState,
  runType: RunType,
  state: CycleState | undefined,
): Promise<{ metrics: Metric[] | null; pods?: ListedPods }> {
  const { stages, config } = ctx;
  const resource = target.object;
  const kubernetesMetrics = await readKubernetesMetrics(ctx, target);
  const extra = { ...(kubernetesMetrics ? { kubernetesMetrics } : {}), ...stateInput(ctx, state) };
  await stages.run("preMetric", { resource, runType, ...extra }, ctx.signal);
  if (config.runMode === "per-resource") {
    const value = await stages.run("metric", { resource, runType, ...extra }, ctx.signal);
    const metrics = [metric(target.object.metadata?.name ?? config.scaleTargetRef.name, value)];
    await stages.run("postMetric", { resource, runType, ...extra, metrics }, ctx.signal);
    return { metrics };
  }
  const pods = await ctx.target.pods(target.selector);
  // One after another by default, as the original: user scripts may not expect to run concurrently.
  const values = await inOrder(pods, config.metricConcurrency, (pod) =>
    stages.run("metric", { resource: pod, runType, ...extra }, ctx.signal),
  );
  const metrics =
    pods.length === 0 ? null : pods.map((pod, i) => metric(pod.metadata?.name ?? "", values[i]));
  await stages.run("postMetric", { resource, runType, ...extra, metrics }, ctx.signal);
  return { metrics, pods };
}

/**
 * The configured Kubernetes metrics, or undefined when none are configured.
 * A metric that cannot be read is logged and left out; with
 * requireKubernetesMetrics any such failure fails the run.
 */
async function readKubernetesMetrics(
  ctx: CycleContext,
  target: TargetState,
): Promise<KubernetesMetric[] | undefined> {
  if (!ctx.kubernetesMetrics) return undefined;
  const { metrics, failures } = await ctx.kubernetesMetrics(target);
  if (failures.length === 0) return metrics;
  const problems = failures.map((f) => f.error.message);
  if (ctx.config.requireKubernetesMetrics) {
    const first = failures[0]?.spec["type"];
    const reason = typeof first === "string" ? `FailedGet${first}Metric` : "FailedGetKubernetesMetrics";
    throw new KubernetesMetricsError(
      `could not read Kubernetes metrics (requireKubernetesMetrics is set): ${problems.join("; ")}`,
      reason,
    );
  }
  for (const f of failures) {
    ctx.log.warn(
      { spec: describeSpec(f.spec), code: f.error.code },
      `Kubernetes metric left out of this run: ${f.error.message}`,
    );
  }
  return metrics;
}

/**
 * fn over items, at most `limit` at once, results in the items' order. The
 * first failure fails the whole, once the runs already started have ended.
 */
export async function inOrder<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
  return results;
}

function metric(resource: string, value: string | undefined): Metric {
  return value ? { resource, value } : { resource };
}

/** The evaluate stage; its output must be JSON {"targetReplicas": <whole number >= 0>}. */
export async function evaluate(
  ctx: CycleContext,
  target: TargetState,
  metrics: Metric[] | null,
  runType: RunType,
  state?: CycleState,
): Promise<Evaluation> {
  const input = { metrics, resource: target.object, runType, ...stateInput(ctx, state) };
  await ctx.stages.run("preEvaluate", input, ctx.signal);
  const output = (await ctx.stages.run("evaluate", input, ctx.signal)) ?? "";
  const evaluation = parseEvaluation(output, stateLimit(ctx.config));
  await ctx.stages.run("postEvaluate", { ...input, evaluation }, ctx.signal);
  return evaluation;
}

/**
 * The original treated a missing targetReplicas as 0, which scales the target
 * down to minReplicas on a typo. We refuse output we cannot read instead, and
 * leave the target as it is.
 */
export function parseEvaluation(output: string, stateMaxBytes?: number): Evaluation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    throw new StageError(
      "evaluate",
      `output is not JSON: expected {"targetReplicas": <number>}, got ${quote(output)}`,
    );
  }
  const fields = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const target = fields["targetReplicas"];
  if (typeof target !== "number" || !Number.isInteger(target) || target < 0) {
    throw new StageError(
      "evaluate",
      `output has no usable targetReplicas (a whole number >= 0): got ${quote(output)}`,
    );
  }
  const podsToRemove = parsePodsToRemove(fields["podsToRemove"]);
  return {
    targetReplicas: target,
    ...(podsToRemove ? { podsToRemove } : {}),
    ...(stateMaxBytes !== undefined && "state" in fields
      ? { state: checkedState(fields["state"], stateMaxBytes) }
      : {}),
  };
}

/** A new state from evaluate: any JSON value of at most maxBytes as JSON (null clears it). */
function checkedState(value: unknown, maxBytes: number): unknown {
  const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
  if (bytes > maxBytes)
    throw new StageError(
      "evaluate",
      `the state it returned takes ${bytes} bytes as JSON, more than state.maxBytes (${maxBytes}); ` +
        "return a smaller state, or raise state.maxBytes in config.yaml (at most 65536)",
    );
  return value ?? null;
}

/** At most this many names: one per Pod of a large Deployment is far below it. */
const MAX_PODS_TO_REMOVE = 1000;

function parsePodsToRemove(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value))
    throw new StageError(
      "evaluate",
      `podsToRemove must be a list of Pod names, got ${quote(JSON.stringify(value))}`,
    );
  if (value.length > MAX_PODS_TO_REMOVE)
    throw new StageError(
      "evaluate",
      `podsToRemove has ${value.length} names; at most ${MAX_PODS_TO_REMOVE} are read`,
    );
  value.forEach((name: unknown, i) => {
    if (typeof name !== "string" || name === "" || name.length > 253)
      throw new StageError(
        "evaluate",
        `podsToRemove[${i}] is not a Pod name (a non-empty string of at most 253 characters): got ${quote(JSON.stringify(name))}`,
      );
  });
  return value as string[];
}

function quote(text: string): string {
  const t = text.trim();
  return t ? JSON.stringify(t.length > 300 ? `${t.slice(0, 300)}…` : t) : "no output";
}

/**
 * A full run. Throws StageError or a Kubernetes API error; the target is then
 * left as it is. `seen` gets each step's result as the run reaches it, so a
 * failed run's record holds what it got to.
 */
export async function runCycle(
  ctx: CycleContext,
  state: CycleState,
  runType: RunType,
  dryRun = false,
  seen: RunSeen = {},
): Promise<CycleOutcome> {
  const { config } = ctx;
  const ref = config.scaleTargetRef;
  const target = await ctx.target.read().catch((err: unknown) => {
    throw new TargetError("read-target", `could not read ${ref.kind} ${ref.name}: ${errorText(err)}`, err);
  });
  seen.current = target.current;
  seen.resource = target.object as Resource;
  const { metrics, pods } = await gather(ctx, target, runType, state);
  seen.metrics = metrics;
  const evaluation = await evaluate(ctx, target, metrics, runType, state);
  seen.evaluation = evaluation;
  const now = ctx.now();
  const decision = decide({
    evaluation: evaluation.targetReplicas,
    current: target.current,
    minReplicas: config.minReplicas,
    maxReplicas: config.maxReplicas,
    now,
    downscaleStabilizationSeconds: config.downscaleStabilization,
    ...(config.behavior ? { behavior: config.behavior } : {}),
    history: state.history,
  });
  seen.decision = decision;
  seen.decidedAt = now;
  if (dryRun) return { target, metrics, evaluation, decision, scaled: false };
  state.history = decision.history;
  if ("state" in evaluation) state.userState = evaluation.state;
  // A shadow acts on nothing: no hook that follows a scale, no write.
  if (ctx.shadow) return { target, metrics, evaluation, decision, scaled: false, shadow: true };
  // A disabled run (the target at 0 with minReplicas above 0) runs no scale hooks, as the original.
  if (target.current === 0 && config.minReplicas !== 0)
    return { target, metrics, evaluation, decision, scaled: false };
  const hookInput = {
    evaluation: { targetReplicas: decision.replicas },
    resource: target.object,
    scaleTargetRef: config.scaleTargetRef,
    namespace: config.namespace,
    minReplicas: config.minReplicas,
    maxReplicas: config.maxReplicas,
    targetReplicas: evaluation.targetReplicas,
    currentReplicas: target.current,
    runType,
  };
  await ctx.stages.run("preScale", hookInput, ctx.signal);
  const desired = decision.scale ? decision.replicas : target.current;
  const deletionCosts = await applyDeletionCosts(ctx, state, target, evaluation, desired, pods);
  const costs = deletionCosts ? { deletionCosts } : {};
  let scaled = false;
  if (decision.scale) {
    // Shutting down after the decision but before the write: leave the target as it is.
    ctx.signal?.throwIfAborted();
    await ctx.target.scale(target.resource, decision.replicas).catch((err: unknown) => {
      throw new TargetError(
        "update-scale",
        `could not scale ${ref.kind} ${ref.name}: ${errorText(err)}`,
        err,
      );
    });
    state.history = recordScale(state.history, now, target.current, decision.replicas);
    scaled = true;
    seen.scaled = true;
  }
  await ctx.stages.run("postScale", hookInput, ctx.signal);
  return { target, metrics, evaluation, decision, scaled, ...costs };
}

/**
 * Before a scale-down, the Pods evaluate named in podsToRemove get a low
 * deletion cost, and costs an earlier run set on Pods that stayed are removed
 * (deletion-cost.ts). Best effort: a Pod that cannot be annotated is a
 * warning, and the scale goes ahead; the ReplicaSet controller decides anyway.
 * Lists the Pods only when there is something to set or clear.
 */
async function applyDeletionCosts(
  ctx: CycleContext,
  state: CycleState,
  target: TargetState,
  evaluation: Evaluation,
  desired: number,
  /** The Pods the metric stage was run for (per-pod mode): no second list. */
  listed: ListedPods | undefined,
): Promise<CycleOutcome["deletionCosts"]> {
  const named = evaluation.podsToRemove ?? [];
  const marked = state.costMarked ?? [];
  if (marked.length === 0 && (named.length === 0 || desired >= target.current)) return undefined;
  const ref = ctx.config.scaleTargetRef;
  const plan = planDeletionCosts({
    target: { kind: ref.kind, name: ref.name, group: target.resource.group },
    pods: listed ?? (await ctx.target.pods(target.selector)),
    podsToRemove: named,
    current: target.current,
    desired,
    marked,
  });
  const warnings = [...plan.warnings];
  const failedClears: string[] = [];
  const done = { set: [] as string[], cleared: [] as string[] };
  for (const change of plan.changes) {
    try {
      await ctx.target.setDeletionCost(change.pod, change.cost);
      (change.cost === null ? done.cleared : done.set).push(change.pod);
    } catch (err) {
      // Gone since the list: nothing to set or clear.
      if (err instanceof KubeApiError && err.status === 404) continue;
      if (change.cost === null) failedClears.push(change.pod);
      warnings.push(costFailure(change.pod, err));
    }
  }
  state.costMarked = [...plan.marked, ...failedClears];
  for (const w of warnings) ctx.log.warn({ podsToRemove: named }, w);
  if (done.set.length + done.cleared.length > 0)
    ctx.log.info({ set: done.set, cleared: done.cleared }, "Pod deletion costs written before the scale");
  return { ...done, warnings };
}

function costFailure(pod: string, err: unknown): string {
  const status = err instanceof KubeApiError ? err.status : undefined;
  const text = errorText(err);
  if (status === 403 && text.includes("ValidatingAdmissionPolicy"))
    return `could not set the deletion cost of Pod ${pod}: the admission policy refused it (${text})`;
  if (status === 403)
    return (
      `could not set the deletion cost of Pod ${pod}: not allowed to patch pods; ` +
      "set roleRequiresPodDeletionCost: true on the CustomPodAutoscaler"
    );
  return `could not set the deletion cost of Pod ${pod}: ${text}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
