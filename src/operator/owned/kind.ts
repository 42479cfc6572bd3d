// What the operator provisions for a CPA, as data. Each kind it owns is one
// module in this folder (service-account.ts, role.ts, role-binding.ts, pod.ts)
// naming where the kind lives in the API, what the cache keeps of it, what is
// compared and how a difference is mended, the verbs that takes, what a user
// does about a namesake, and its step of the reconcile pass. OWNED_KINDS
// (index.ts) lists them; the informers, the cache, the operator's Role, the
// status wording and the reconcile pass iterate that list.
import type { ResolvedResource } from "../../kube/discovery.ts";
import type { ResourceType } from "../../kube/writes.ts";
import type { Pass } from "../pass.ts";
import type { EffectiveFlags } from "../spec.ts";
import type { PodState } from "../status.ts";

/** Beyond metadata, what the cache keeps of an object: a field whole (true), or only some of its fields. */
export type Kept = Readonly<Record<string, true | readonly string[]>>;

/** The provision flag of a kind: whether the operator makes it, or the user brings it. */
export type ProvisionFlag = keyof Pick<
  EffectiveFlags,
  "provisionServiceAccount" | "provisionRole" | "provisionRoleBinding" | "provisionPod"
>;

/**
 * How a difference between the live object and the desired one is mended:
 * server-side apply (the verb patch), or, for fields the API will not change in
 * place, delete and create; a Pod is replaced (deleted, and created again by
 * the next pass) when its spec's hash differs.
 */
export type Mend = { by: "apply"; recreateWhen?: readonly string[] } | { by: "replace" };

/** What one pass has found so far: the steps of a kind write it, the steps after it read it. */
export interface Found {
  readonly flags: EffectiveFlags;
  readonly target: ResolvedResource | undefined;
  /** The ServiceAccount the autoscaler Pod may run as; undefined when it may not run. */
  serviceAccount?: string | undefined;
  /** Whether the Role named like the CPA may be bound: the CPA's own, or one its user brought. */
  roleBindable?: boolean;
  pod?: PodState;
}

export interface OwnedKind {
  /** As in the API's kind field. */
  readonly kind: string;
  readonly type: ResourceType;
  /** The spec field that says whether the operator makes objects of this kind. */
  readonly flag: ProvisionFlag;
  readonly kept: Kept;
  /** Content fields the operator sets and compares; its labels and controller reference always are. */
  readonly compared: readonly string[];
  readonly mend: Mend;
  /** Whether the operator deletes objects of this kind that it made (the step says when). */
  readonly deletes: boolean;
  /** The operator's verbs on the kind: its Role grants these, and the kinds test checks they suffice. */
  readonly verbs: readonly string[];
  /** The kinds whose steps must have run before this one's (they fill in what it reads of Found). */
  readonly after: readonly string[];
  /** What a user can do when an object of the name exists and is not the CPA's. */
  readonly advice: string;
  /** The condition reason when the API rejects the object. */
  readonly rejected: string;
  /** This kind's part of the reconcile pass. */
  readonly step: (pass: Pass, found: Found) => Promise<void>;
}

/** The verbs the operator's own requests on a kind take, from how it is cached and mended. Pure. */
export function verbsNeeded(kind: OwnedKind): string[] {
  // get: a create answered AlreadyExists reads the namesake; list and watch: the informer.
  const verbs = ["get", "list", "watch", "create"];
  if (kind.mend.by === "apply") verbs.push("patch");
  const recreates = kind.mend.by === "apply" && (kind.mend.recreateWhen?.length ?? 0) > 0;
  if (kind.deletes || recreates || kind.mend.by === "replace") verbs.push("delete");
  return verbs;
}

/**
 * The kinds in the order their steps may run: each group after the ones its
 * kinds name in `after`, the kinds of a group concurrently. Throws on a kind
 * named that is not listed, or a cycle. Pure.
 */
export function stepOrder(kinds: readonly OwnedKind[]): OwnedKind[][] {
  const names = new Set(kinds.map((k) => k.kind));
  for (const k of kinds)
    for (const a of k.after)
      if (!names.has(a)) throw new Error(`owned kind ${k.kind} runs after ${a}, which is not an owned kind`);
  const done = new Set<string>();
  const groups: OwnedKind[][] = [];
  let left = [...kinds];
  while (left.length > 0) {
    const ready = left.filter((k) => k.after.every((a) => done.has(a)));
    if (ready.length === 0)
      throw new Error(`owned kinds ${left.map((k) => k.kind).join(", ")} wait on each other`);
    groups.push(ready);
    for (const k of ready) done.add(k.kind);
    left = left.filter((k) => !ready.includes(k));
  }
  return groups;
}
