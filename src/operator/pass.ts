// One reconcile pass over one CPA, and the writes every owned kind's step
// shares: create when missing, update when what the operator owns differs,
// never touch another's object. What the pass finds goes into its problems
// (the status) and actions (Normal events), which reconcile.ts turns into one
// status write and its events at the end.
import type { Logger } from "pino";
import { Reason } from "../api/conditions.ts";
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import type { ResolvedResource } from "../kube/discovery.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { ServiceAccountRef } from "../kube/identity.ts";
import {
  isAlreadyExists,
  isNamespaceTerminating,
  isNotFound,
  isTerminal,
  KubeApiError,
  type KubeClient,
} from "../kube/http.ts";
import type { KubeObject } from "../kube/objects.ts";
import { objectPath, type Writer } from "../kube/writes.ts";
import { Expectations } from "./expectations.ts";
import type { OwnedKind } from "./owned/kind.ts";
import { changedFields, differs, ownershipOf } from "./ownership.ts";
import type { Problem } from "./status.ts";

export interface Cache<T> {
  get(key: string): T | undefined;
  /** The cached objects an index maps to value (CONTROLLER_INDEX: those a CPA of that uid controls). */
  byIndex(index: string, value: string): T[];
}

export interface ReconcileDeps {
  cpas: Cache<CustomPodAutoscaler>;
  /** The cache of each owned kind, by its kind name (owned/index.ts). */
  owned: ReadonlyMap<string, Cache<KubeObject>>;
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

export interface Pass {
  cpa: CustomPodAutoscaler;
  deps: ReconcileDeps;
  log: Logger;
  problems: Problem[];
  /** Normal events to record once the pass is done. */
  actions: { reason: string; message: string }[];
  requeueAfterMs?: number;
}

/** How soon to look again at an object a deleted namesake CPA still owns. */
const RETRY_SOON_MS = 2_000;

/** The cached object of a kind with this name in the CPA's namespace. */
export function cached(pass: Pass, kind: OwnedKind, name: string): KubeObject | undefined {
  return pass.deps.owned.get(kind.kind)?.get(`${pass.cpa.metadata.namespace}/${name}`);
}

/** Whether an object is this CPA's own after ensure(): only then may the operator rely on it. */
export type Ensured = "ours" | "not-ours" | "rejected";

/** Creates the object if missing, updates it when what we own differs, and never touches another's. */
export async function ensure(pass: Pass, kind: OwnedKind, desired: KubeObject): Promise<Ensured> {
  const what = `${kind.kind} ${desired.metadata?.name ?? ""}`;
  try {
    const live =
      cached(pass, kind, desired.metadata?.name ?? "") ??
      (justCreated(pass, kind, desired) ? undefined : await createOrRead(pass, kind, desired));
    if (!live) return "ours";
    if (isOwnershipProblem(pass, live, kind)) return "not-ours";
    await update(pass, kind, live, desired, what);
    return "ours";
  } catch (err) {
    if (!isTerminal(err) || isNamespaceTerminating(err)) throw err;
    pass.problems.push({ reason: kind.rejected, message: `${what} was rejected: ${apiMessage(err)}` });
    return "rejected";
  }
}

async function update(
  pass: Pass,
  kind: OwnedKind,
  live: KubeObject,
  desired: KubeObject,
  what: string,
): Promise<void> {
  const { writer } = pass.deps;
  const ns = pass.cpa.metadata.namespace;
  const name = desired.metadata?.name ?? "";
  if (kind.mend.by !== "apply") return;
  const fixed = changedFields(live, desired, kind.mend.recreateWhen ?? []);
  if (fixed.length > 0) {
    await writer.delete(kind.type, ns, name, live.metadata?.uid);
    await writer.create(kind.type, ns, desired);
    pass.actions.push({ reason: "Updated", message: `Recreated ${what}: its ${fixed.join(", ")} changed` });
    return;
  }
  const changed = differs(live, desired, kind.compared);
  if (changed.length === 0) return;
  await writer.apply(kind.type, ns, name, desired);
  pass.log.info({ object: what, changed }, `Updated ${kind.kind}`);
  pass.actions.push({ reason: "Updated", message: `Updated ${what} (${changed.join(", ")})` });
}

/** Whether this operator created the object moments ago and its cache has yet to show it. */
export function justCreated(pass: Pass, kind: OwnedKind, desired: KubeObject): boolean {
  const key = Expectations.key(kind.type.resource, pass.cpa.metadata.namespace, desired.metadata?.name);
  return pass.deps.expectations?.pending(key) ?? false;
}

/** Creates the object; if one of that name already exists, returns it for the ownership check. */
export async function createOrRead(
  pass: Pass,
  kind: OwnedKind,
  desired: KubeObject,
): Promise<KubeObject | undefined> {
  const ns = pass.cpa.metadata.namespace;
  const name = desired.metadata?.name ?? "";
  try {
    await pass.deps.writer.create(kind.type, ns, desired);
    pass.deps.expectations?.created(Expectations.key(kind.type.resource, ns, name));
    pass.log.info({ object: `${kind.kind} ${name}` }, `Created ${kind.kind}`);
    pass.actions.push({ reason: "Created", message: `Created ${kind.kind} ${name}` });
    return undefined;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // Not in our cache: either not labelled as ours, or the cache lags behind.
    return pass.deps.http.request<KubeObject>("GET", objectPath(kind.type, ns, name));
  }
}

/** Reports an object that is not this CPA's; true when it is not ours to change. */
export function isOwnershipProblem(pass: Pass, live: KubeObject, kind: OwnedKind): boolean {
  const what = `${kind.kind} ${live.metadata?.name ?? ""}`;
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
        message: `${what} already exists and is not managed by this CustomPodAutoscaler; ${kind.advice}`,
      });
      return true;
  }
}

export async function deleteIgnoringGone(pass: Pass, kind: OwnedKind, obj: KubeObject): Promise<void> {
  try {
    await pass.deps.writer.delete(
      kind.type,
      pass.cpa.metadata.namespace,
      obj.metadata?.name ?? "",
      obj.metadata?.uid,
    );
  } catch (err) {
    // Already gone, or replaced by a namesake (uid precondition failed): nothing to do.
    if (!isNotFound(err) && !(err instanceof KubeApiError && err.status === 409)) throw err;
  }
}

export function apiMessage(err: unknown): string {
  if (err instanceof KubeApiError) return err.apiStatus?.message ?? err.message;
  return err instanceof Error ? err.message : String(err);
}
