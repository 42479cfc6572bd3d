// Reconciles one CustomPodAutoscaler: level-triggered and idempotent. It reads
// the CPA and its objects from the informer caches, builds what should exist
// with pure functions, writes only what differs, and writes the status only when
// it changed. An unchanged CPA costs zero writes.
import { ConditionType, Reason, type Condition } from "../api/conditions.ts";
import { API_VERSION, GROUP, KIND, PLURAL } from "../api/names.ts";
import { resourcePath, UnresolvedKindError, type ResolvedResource } from "../kube/discovery.ts";
import { isNamespaceTerminating } from "../kube/http.ts";
import { configProblems } from "./config-check.ts";
import { stepOrder, type Found } from "./owned/kind.ts";
import { OWNED_KINDS, podKind } from "./owned/index.ts";
import { cached, justCreated, type Pass, type ReconcileDeps } from "./pass.ts";
import { effectiveSpec } from "./spec.ts";
import { computeStatus, isStatusCurrent, type PodState } from "./status.ts";

export type { Cache, ReconcileDeps } from "./pass.ts";

/** The owned kinds' steps, in groups that run one after another (kind.ts, stepOrder). */
const STEPS = stepOrder(OWNED_KINDS);

export interface ReconcileResult {
  requeueAfterMs?: number;
  /** The pass found problems: come back after the CPA's backoff, at most requeueAfterMs. */
  backOff?: boolean;
  /** Every problem is one only a change can fix: come back on the slow backoff, at most requeueAfterMs. */
  terminal?: boolean;
}

/**
 * The longest wait before a CPA with problems is looked at again. Problems
 * mostly need a change elsewhere (a CRD installed, RBAC granted), but some
 * pass by themselves (right after an apiserver restart its authorizer
 * answers 403 for a few seconds), so retries start at the work queue's base
 * delay and double up to this.
 */
const RETRY_PROBLEM_MS = 60_000;
/** The slowest retry of a CPA whose problems are all terminal (the CPA changing queues it at once). */
export const RETRY_TERMINAL_MAX_MS = 10 * 60_000;

export async function reconcile(key: string, deps: ReconcileDeps): Promise<ReconcileResult> {
  try {
    return await reconcileCpa(key, deps);
  } catch (err) {
    // The namespace is being deleted, and the CPA with it: nothing to provision or report.
    if (isNamespaceTerminating(err)) return {};
    throw err;
  }
}

async function reconcileCpa(key: string, deps: ReconcileDeps): Promise<ReconcileResult> {
  const cpa = deps.cpas.get(key);
  // Gone, or going: garbage collection removes what we made.
  if (!cpa || cpa.metadata.deletionTimestamp) return {};
  const pass: Pass = { cpa, deps, log: deps.log.child({ cpa: key }), problems: [], actions: [] };
  // Without the admission policy, provisioning could hand the CPA's author the operator's rights.
  const blocked = deps.admissionProblem?.();
  if (blocked !== undefined) {
    pass.problems.push({ reason: Reason.AdmissionPolicyMissing, message: blocked });
    return finish(key, pass, { state: "withheld" });
  }
  const target = await resolveTarget(pass);
  // Each group's kinds are written concurrently, so a CPA costs two round trips
  // of latency, not four: the ServiceAccount and Role first, then what depends
  // on them (the Pod needs its ServiceAccount to exist; the RoleBinding, to know
  // whether the Role and ServiceAccount are ours).
  const found: Found = { flags: effectiveSpec(cpa.spec), target };
  for (const group of STEPS)
    await inSteps(
      pass,
      group.map((kind) => (p: Pass) => kind.step(p, found)),
    );
  return finish(key, pass, found.pod ?? { state: "not-provisioned" });
}

/** Writes the status when it changed, records the pass's events, and says when to come back. */
async function finish(key: string, pass: Pass, pod: PodState): Promise<ReconcileResult> {
  const { cpa, deps } = pass;
  const ns = cpa.metadata.namespace;
  const name = cpa.metadata.name;
  const status = computeStatus(
    cpa,
    { problems: pass.problems, pod, configProblems: configProblems(cpa) },
    deps.now(),
  );
  const settling = pendingJustCreated(pod, pass);
  const current = isStatusCurrent(cpa.status, status);
  if (settling !== undefined) {
    // A Pod just created usually runs within moments: write its status once, as
    // Running, rather than Pending now and Running a moment later.
    pass.requeueAfterMs = Math.min(pass.requeueAfterMs ?? Infinity, settling);
  } else if (!current) {
    const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ns }, status };
    // Through the status lane when there is one: below creates in priority.
    if (deps.submitStatus) deps.submitStatus(key, body);
    else
      await deps.writer.applyStatus(
        resourcePath({ group: GROUP, version: "v1", resource: PLURAL }, ns),
        name,
        body,
      );
    pass.log.debug(
      { conditions: status.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`) },
      "Updated status",
    );
    recordTransitions(pass, pod, status.conditions);
  }
  recordActions(pass);
  if (pass.problems.length > 0 && pass.problems.every((p) => p.terminal === true))
    return { requeueAfterMs: RETRY_TERMINAL_MAX_MS, terminal: true };
  if (pass.problems.length > 0)
    return {
      requeueAfterMs: Math.min(pass.requeueAfterMs ?? RETRY_PROBLEM_MS, RETRY_PROBLEM_MS),
      backOff: true,
    };
  return pass.requeueAfterMs === undefined ? {} : { requeueAfterMs: pass.requeueAfterMs };
}

/**
 * Runs steps concurrently, each with a pass of its own, and merges what they
 * found in the steps' order, so the status (and its message) never depends on
 * which request answered first.
 */
async function inSteps(pass: Pass, steps: readonly ((p: Pass) => Promise<void>)[]): Promise<void> {
  const runs = steps.map((step) => {
    const own: Pass = { ...pass, problems: [], actions: [] };
    return { own, done: step(own) };
  });
  await Promise.all(runs.map((r) => r.done));
  for (const { own: p } of runs) {
    pass.problems.push(...p.problems);
    pass.actions.push(...p.actions);
    if (p.requeueAfterMs !== undefined)
      pass.requeueAfterMs = Math.min(pass.requeueAfterMs ?? Infinity, p.requeueAfterMs);
  }
}

/** How long a Pod may stay Pending after its creation before its status is written anyway. */
const PENDING_COALESCE_MS = 3000;

/** For a Pod created moments ago and still pending: how long to wait before writing its status. */
function pendingJustCreated(pod: PodState, pass: Pass): number | undefined {
  if (pod.state !== "pending" || pass.problems.length > 0) return undefined;
  const live = cached(pass, podKind, pod.name);
  const created = live?.metadata?.creationTimestamp;
  // Created in this very pass, or in one moments ago: not in the cache yet.
  if (!live) {
    const createdNow = pass.actions.some((a) => a.reason === "Created");
    return createdNow || justCreated(pass, podKind, { metadata: { name: pod.name } })
      ? PENDING_COALESCE_MS
      : undefined;
  }
  const age = pass.deps.now().getTime() - (created ? new Date(created).getTime() : 0);
  return age < PENDING_COALESCE_MS ? PENDING_COALESCE_MS - age : undefined;
}

/**
 * Normal events, recorded once the pass is done. What was created in one pass
 * is one Provisioned event, not one per object.
 */
function recordActions(pass: Pass): void {
  const created = pass.actions
    .filter((a) => a.reason === "Created")
    .map((a) => a.message.replace(/^Created /, ""));
  if (created.length > 0)
    pass.deps.events.record(pass.cpa, "Normal", "Provisioned", `Created ${joinWords(created)}`);
  for (const a of pass.actions)
    if (a.reason !== "Created") pass.deps.events.record(pass.cpa, "Normal", a.reason, a.message);
}

function joinWords(words: string[]): string {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1) ?? ""}`;
}

async function resolveTarget(pass: Pass): Promise<ResolvedResource | undefined> {
  const ref = pass.cpa.spec.scaleTargetRef;
  try {
    const target = await pass.deps.resolveTarget(ref.apiVersion, ref.kind);
    if (!target.scalable) {
      pass.problems.push({
        reason: Reason.TargetUnresolved,
        message: `${ref.kind} ${ref.name} cannot be autoscaled: ${target.resource} has no /scale subresource`,
        terminal: true,
      });
    }
    return target;
  } catch (err) {
    if (!(err instanceof UnresolvedKindError)) throw err;
    pass.problems.push({
      reason: Reason.TargetUnresolved,
      message: `spec.scaleTargetRef: ${err.message}; is its CRD installed? Retrying with a growing delay, or at once when the CustomPodAutoscaler changes`,
      terminal: true,
    });
    return undefined;
  }
}

/** Warnings for new problems, and pause transitions, recorded when the status changes. */
function recordTransitions(pass: Pass, pod: PodState, after: readonly Condition[]): void {
  const { cpa, deps } = pass;
  const before = cpa.status?.conditions ?? [];
  const previousMessages = new Set(before.map((c) => c.message));
  for (const p of pass.problems) {
    if (!previousMessages.has(p.message)) deps.events.record(cpa, "Warning", p.reason, p.message);
  }
  const config = after.find((c) => c.type === ConditionType.ConfigValid);
  if (config?.status === "False" && !previousMessages.has(config.message))
    deps.events.record(cpa, "Warning", config.reason, config.message);
  const wasPaused = before.some((c) => c.type === "Ready" && c.reason === Reason.Paused);
  if (pod.state === "paused" && !wasPaused) {
    deps.events.record(cpa, "Normal", "Paused", `Autoscaling paused at ${pod.replicas} replicas`);
  } else if (pod.state !== "paused" && wasPaused) {
    deps.events.record(cpa, "Normal", "Resumed", "Autoscaling resumed");
  }
}
