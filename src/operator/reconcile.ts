// Reconciles one CustomPodAutoscaler: level-triggered and idempotent. It reads
// the CPA and its objects from the informer caches, builds what should exist
// with pure functions, writes only what differs, and writes the status only when
// it changed. An unchanged CPA costs zero writes.
import type { V1Pod, V1Role, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ConditionType, Reason, type Condition } from "../api/conditions.ts";
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import { API_VERSION, GROUP, KIND, PLURAL, POD_HASH_ANNOTATION } from "../api/names.ts";
import { resourcePath, UnresolvedKindError, type ResolvedResource } from "../kube/discovery.ts";
import type { EventRecorder } from "../kube/events.ts";
import {
  isAlreadyExists,
  isNamespaceTerminating,
  isNotFound,
  isInvalid,
  isTerminal,
  KubeApiError,
  type KubeClient,
} from "../kube/http.ts";
import type { KubeObject } from "../kube/objects.ts";
import {
  objectPath,
  Pods,
  RoleBindings,
  Roles,
  ServiceAccounts,
  type ResourceType,
  type Writer,
} from "../kube/writes.ts";
import type { ServiceAccountRef } from "../kube/identity.ts";
import { desiredPod, podName, podServiceAccountName } from "./desired/pod.ts";
import { Expectations } from "./expectations.ts";
import { desiredRole } from "./desired/role.ts";
import { desiredRoleBinding } from "./desired/role-binding.ts";
import { desiredServiceAccount } from "./desired/service-account.ts";
import { CONTROLLER_INDEX, differs, ownershipOf, roleRefChanged } from "./ownership.ts";
import { configProblems } from "./config-check.ts";
import { pauseOf } from "./pause.ts";
import { podHealth } from "./pod-health.ts";
import { effectiveSpec } from "./spec.ts";
import { computeStatus, isStatusCurrent, type PodState, type Problem } from "./status.ts";

export interface Cache<T> {
  get(key: string): T | undefined;
  /** The cached objects an index maps to value (CONTROLLER_INDEX: those a CPA of that uid controls). */
  byIndex(index: string, value: string): T[];
}

export interface ReconcileDeps {
  cpas: Cache<CustomPodAutoscaler>;
  serviceAccounts: Cache<V1ServiceAccount>;
  roles: Cache<V1Role>;
  roleBindings: Cache<V1RoleBinding>;
  pods: Cache<V1Pod>;
  http: KubeClient;
  writer: Writer;
  resolveTarget: (apiVersion: string | undefined, kind: string) => Promise<ResolvedResource>;
  events: EventRecorder;
  log: Logger;
  now: () => Date;
  /** The operator's own ServiceAccount, which no autoscaler Pod may run as. */
  operatorServiceAccount?: ServiceAccountRef | undefined;
  /** Hands a CPA's new status to be written (status-lane.ts); without it, the pass writes it itself. */
  submitStatus?: (key: string, body: object) => void;
  /** Creates the caches have yet to show (expectations.ts); without it, every miss creates. */
  expectations?: Expectations;
  /** Why nothing may be provisioned now (admission-guard.ts), or undefined when it may. */
  admissionProblem?: () => string | undefined;
}

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
const RETRY_SOON_MS = 2_000;

interface Pass {
  cpa: CustomPodAutoscaler;
  deps: ReconcileDeps;
  log: Logger;
  problems: Problem[];
  /** Normal events to record once the pass is done. */
  actions: { reason: string; message: string }[];
  requeueAfterMs?: number;
}

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
  const flags = effectiveSpec(cpa.spec);
  const ns = cpa.metadata.namespace;
  const name = cpa.metadata.name;

  const target = await resolveTarget(pass);
  // Independent objects are written concurrently, so a CPA costs two round trips
  // of latency, not four: the ServiceAccount and Role first, then what depends on
  // them (the Pod needs its ServiceAccount to exist; the RoleBinding, to know
  // whether the Role and ServiceAccount are ours).
  const [serviceAccount, roleIsBindable] = await inSteps(pass, [
    (p) => reconcileServiceAccount(p, flags.provisionServiceAccount),
    // A Role the user brings (provisionRole: false) is theirs to bind: the admission policy checked they may.
    async (p) =>
      flags.provisionRole
        ? (await ensure(p, Roles, deps.roles.get(`${ns}/${name}`), desiredRole(cpa, target))) === "ours"
        : true,
  ]);
  const [, pod] = await inSteps(pass, [
    async (p) => {
      if (flags.provisionRoleBinding) await reconcileRoleBinding(p, serviceAccount, roleIsBindable);
    },
    (p) => reconcilePod(p, flags.provisionPod, target, serviceAccount),
  ]);

  return finish(key, pass, pod);
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
async function inSteps<const T extends readonly unknown[]>(
  pass: Pass,
  steps: { [K in keyof T]: (p: Pass) => Promise<T[K]> },
): Promise<T> {
  const runs = steps.map((step) => {
    const own: Pass = { ...pass, problems: [], actions: [] };
    return { own, result: step(own) };
  });
  const results = await Promise.all(runs.map((r) => r.result));
  for (const { own: p } of runs) {
    pass.problems.push(...p.problems);
    pass.actions.push(...p.actions);
    if (p.requeueAfterMs !== undefined)
      pass.requeueAfterMs = Math.min(pass.requeueAfterMs ?? Infinity, p.requeueAfterMs);
  }
  return results as unknown as T;
}

/** How long a Pod may stay Pending after its creation before its status is written anyway. */
const PENDING_COALESCE_MS = 3000;

/** For a Pod created moments ago and still pending: how long to wait before writing its status. */
function pendingJustCreated(pod: PodState, pass: Pass): number | undefined {
  if (pod.state !== "pending" || pass.problems.length > 0) return undefined;
  const live = pass.deps.pods.get(`${pass.cpa.metadata.namespace}/${pod.name}`);
  const created = live?.metadata?.creationTimestamp;
  // Created in this very pass, or in one moments ago: not in the cache yet.
  if (!live) {
    const createdNow = pass.actions.some((a) => a.reason === "Created");
    return createdNow || justCreated(pass, Pods, { metadata: { name: pod.name } })
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

/** Whether an object is this CPA's own after ensure(): only then may the operator rely on it. */
type Ensured = "ours" | "not-ours" | "rejected";

/** Creates the object if missing, updates it when what we own differs, and never touches another's. */
async function ensure(
  pass: Pass,
  type: ResourceType,
  cached: KubeObject | undefined,
  desired: KubeObject,
): Promise<Ensured> {
  const what = `${desired.kind ?? type.resource} ${desired.metadata?.name ?? ""}`;
  try {
    const live =
      cached ?? (justCreated(pass, type, desired) ? undefined : await createOrRead(pass, type, desired));
    if (!live) return "ours";
    if (isOwnershipProblem(pass, live, what, ownershipAdvice(type))) return "not-ours";
    await update(pass, type, live, desired, what);
    return "ours";
  } catch (err) {
    if (!isTerminal(err) || isNamespaceTerminating(err)) throw err;
    pass.problems.push({
      reason: type === Roles ? Reason.RoleRejected : Reason.ProvisionFailed,
      message: `${what} was rejected: ${apiMessage(err)}`,
    });
    return "rejected";
  }
}

/**
 * The ServiceAccount the autoscaler Pod may run as, or undefined when it may
 * not run: never the operator's own, and, when the operator provisions it,
 * only the one this CPA owns (a namesake someone else made could carry any
 * rights).
 */
async function reconcileServiceAccount(pass: Pass, provision: boolean): Promise<string | undefined> {
  const { cpa, deps } = pass;
  const ns = cpa.metadata.namespace;
  const name = podServiceAccountName(cpa, provision);
  const own = deps.operatorServiceAccount;
  if (own?.namespace === ns && own.name === name) {
    pass.problems.push({
      terminal: true,
      reason: Reason.ServiceAccountForbidden,
      message:
        `the autoscaler Pod may not run as ServiceAccount ${name}: it is the operator's own, so no autoscaler Pod runs. ` +
        (provision
          ? "Give the CustomPodAutoscaler another name"
          : "Set spec.template.spec.serviceAccountName to another ServiceAccount"),
    });
    return undefined;
  }
  if (!provision) return name;
  const ensured = await ensure(
    pass,
    ServiceAccounts,
    deps.serviceAccounts.get(`${ns}/${name}`),
    desiredServiceAccount(cpa),
  );
  return ensured === "ours" ? name : undefined;
}

/**
 * Binds the Role to the Pod's ServiceAccount, but only a Role the operator may
 * bind (ours, or the user's with provisionRole: false) to a ServiceAccount the
 * Pod may use; otherwise a RoleBinding of ours is removed, so a Role someone
 * else slipped in under the CPA's name is never bound.
 */
async function reconcileRoleBinding(
  pass: Pass,
  serviceAccount: string | undefined,
  roleIsBindable: boolean,
): Promise<void> {
  const { cpa, deps } = pass;
  const ns = cpa.metadata.namespace;
  const cached = deps.roleBindings.get(`${ns}/${cpa.metadata.name}`);
  if (serviceAccount !== undefined && roleIsBindable) {
    await ensure(pass, RoleBindings, cached, desiredRoleBinding(cpa, serviceAccount));
    return;
  }
  if (!cached || ownershipOf(cached, cpa) !== "ours" || cached.metadata?.deletionTimestamp) return;
  await deleteIgnoringGone(pass, RoleBindings, cached);
  pass.actions.push({
    reason: "Deleted",
    message: `Deleted RoleBinding ${cpa.metadata.name}: its Role or ServiceAccount is not this CustomPodAutoscaler's`,
  });
}

/** Reports an object that is not this CPA's; true when it is not ours to change. */
function isOwnershipProblem(pass: Pass, live: KubeObject, what: string, advice: string): boolean {
  switch (ownershipOf(live, pass.cpa)) {
    case "ours":
      return false;
    case "previous-incarnation":
      pass.requeueAfterMs = RETRY_SOON_MS;
      pass.problems.push({
        reason: Reason.ProvisionFailed,
        message: `${what} still belongs to a deleted CustomPodAutoscaler of the same name; waiting for garbage collection`,
      });
      return true;
    case "foreign":
      pass.problems.push({
        terminal: true,
        reason: Reason.ResourceExists,
        message: `${what} already exists and is not managed by this CustomPodAutoscaler; ${advice}`,
      });
      return true;
  }
}

async function update(
  pass: Pass,
  type: ResourceType,
  live: KubeObject,
  desired: KubeObject,
  what: string,
): Promise<void> {
  const { writer } = pass.deps;
  const ns = pass.cpa.metadata.namespace;
  const name = desired.metadata?.name ?? "";
  if (type === RoleBindings && roleRefChanged(live, desired)) {
    await writer.delete(type, ns, name, live.metadata?.uid);
    await writer.create(type, ns, desired);
    pass.actions.push({ reason: "Updated", message: `Recreated ${what}: its roleRef changed` });
    return;
  }
  const changed = differs(live, desired);
  if (changed.length === 0) return;
  await writer.apply(type, ns, name, desired);
  pass.log.info({ object: what, changed }, `Updated ${desired.kind ?? ""}`);
  pass.actions.push({ reason: "Updated", message: `Updated ${what} (${changed.join(", ")})` });
}

/** Whether this operator created the object moments ago and its cache has yet to show it. */
function justCreated(pass: Pass, type: ResourceType, desired: KubeObject): boolean {
  const key = Expectations.key(type.resource, pass.cpa.metadata.namespace, desired.metadata?.name);
  return pass.deps.expectations?.pending(key) ?? false;
}

/** Creates the object; if one of that name already exists, returns it for the ownership check. */
async function createOrRead(
  pass: Pass,
  type: ResourceType,
  desired: KubeObject,
): Promise<KubeObject | undefined> {
  const ns = pass.cpa.metadata.namespace;
  const name = desired.metadata?.name ?? "";
  try {
    await pass.deps.writer.create(type, ns, desired);
    pass.deps.expectations?.created(Expectations.key(type.resource, ns, name));
    pass.log.info({ object: `${desired.kind ?? ""} ${name}` }, `Created ${desired.kind ?? ""}`);
    pass.actions.push({ reason: "Created", message: `Created ${desired.kind ?? type.resource} ${name}` });
    return undefined;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // Not in our cache: either not labelled as ours, or the cache lags behind.
    return pass.deps.http.request<KubeObject>("GET", objectPath(type, ns, name));
  }
}

async function reconcilePod(
  pass: Pass,
  provision: boolean,
  target: ResolvedResource | undefined,
  serviceAccount: string | undefined,
): Promise<PodState> {
  const { cpa } = pass;
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
    await holdTarget(pass, target, pause.replicas);
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
  const live = pass.deps.pods.get(`${cpa.metadata.namespace}/${name}`);
  if (live) return await livePodState(pass, live, desired, name);
  if (justCreated(pass, Pods, desired))
    return { state: "pending", name, message: pendingMessage(name, undefined) };
  return await createPod(pass, desired, name);
}

/** Deletes the Pods this CPA made, but the one named keep. */
async function deleteOurPods(pass: Pass, keep: string | undefined, because: string): Promise<void> {
  const ns = pass.cpa.metadata.namespace;
  for (const pod of pass.deps.pods.byIndex(CONTROLLER_INDEX, pass.cpa.metadata.uid ?? "")) {
    const name = pod.metadata?.name;
    if (pod.metadata?.namespace !== ns || name === keep || pod.metadata.deletionTimestamp) continue;
    if (ownershipOf(pod, pass.cpa) !== "ours") continue;
    await deleteIgnoringGone(pass, Pods, pod);
    pass.actions.push({ reason: "PodDeleted", message: `Deleted Pod ${name ?? ""}: ${because}` });
  }
}

async function createPod(pass: Pass, desired: V1Pod, name: string): Promise<PodState> {
  try {
    const existing = await createOrRead(pass, Pods, desired);
    if (existing) {
      isOwnershipProblem(pass, existing, `Pod ${name}`, ownershipAdvice(Pods));
    }
  } catch (err) {
    if (!isTerminal(err) || isNamespaceTerminating(err)) throw err;
    pass.problems.push({
      reason: Reason.PodRejected,
      message: `Pod ${name} was rejected: ${apiMessage(err)}`,
      // Invalid as built from spec.template; a 403 (Pod Security, a quota) may pass later.
      ...(isInvalid(err) ? { terminal: true } : {}),
    });
  }
  return { state: "pending", name, message: pendingMessage(name, undefined) };
}

async function livePodState(pass: Pass, live: V1Pod, desired: V1Pod, name: string): Promise<PodState> {
  if (live.metadata?.deletionTimestamp || ownershipOf(live, pass.cpa) === "previous-incarnation") {
    return { state: "replacing", name, message: `Waiting for the old autoscaler Pod ${name} to go away` };
  }
  if (isOwnershipProblem(pass, live, `Pod ${name}`, ownershipAdvice(Pods))) {
    return { state: "pending", name, message: `Pod ${name} belongs to someone else` };
  }
  const replaceBecause = whyReplace(live, desired);
  if (replaceBecause) {
    await deleteIgnoringGone(pass, Pods, live);
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

function pendingMessage(name: string, phase: string | undefined): string {
  return `Waiting for the autoscaler Pod ${name} to run (phase ${phase ?? "Pending"})`;
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

async function deleteIgnoringGone(pass: Pass, type: ResourceType, obj: KubeObject): Promise<void> {
  try {
    await pass.deps.writer.delete(
      type,
      pass.cpa.metadata.namespace,
      obj.metadata?.name ?? "",
      obj.metadata?.uid,
    );
  } catch (err) {
    // Already gone, or replaced by a namesake (uid precondition failed): nothing to do.
    if (!isNotFound(err) && !(err instanceof KubeApiError && err.status === 409)) throw err;
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

/** What to do about a namesake that is not ours, per kind. */
function ownershipAdvice(type: ResourceType): string {
  if (type === ServiceAccounts)
    return "no autoscaler Pod runs until then. Delete it, rename the CustomPodAutoscaler, or set provisionServiceAccount: false to run as it";
  if (type === Roles)
    return "it is not bound. Delete it, or set provisionRole: false to bind it (which needs the bind permission on it)";
  if (type === RoleBindings) return "Delete it, or set provisionRoleBinding: false to keep it";
  return "Delete it, or set spec.template.metadata.name to another name";
}

function apiMessage(err: unknown): string {
  if (err instanceof KubeApiError) return err.apiStatus?.message ?? err.message;
  return err instanceof Error ? err.message : String(err);
}
