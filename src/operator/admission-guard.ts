// The operator relies on its admission policies to refuse what the Roles it
// provisions would otherwise allow: cpa-requester-rights (admission-policy.ts)
// a CPA whose author could not do themselves what the operator would do for
// them, cpa-pod-deletion-cost (pod-cost-policy.ts) an autoscaler's Pod patch
// beyond the deletion cost. Without them, or with weakened ones, provisioning
// would hand CPA authors the operator's rights. So the operator checks, at
// start and then periodically, that the policies and their bindings exist and
// hold what this release ships, and provisions nothing while they do not (an
// admin may opt out with --skip-admission-policy-check, knowing what they lose).
import type { Logger } from "pino";
import { isNotFound, KubeApiError, type KubeClient } from "../kube/http.ts";
import { ADMISSION_POLICY_NAME, admissionPolicy, admissionPolicyBinding } from "./admission-policy.ts";
import { POD_COST_POLICY_NAME, podCostPolicy, podCostPolicyBinding } from "./pod-cost-policy.ts";

const BASE = "/apis/admissionregistration.k8s.io/v1";

/** The policies the operator relies on, each with its binding of the same name. */
export const GUARDED_POLICIES = [
  { name: ADMISSION_POLICY_NAME, policy: admissionPolicy, binding: admissionPolicyBinding },
  { name: POD_COST_POLICY_NAME, policy: podCostPolicy, binding: podCostPolicyBinding },
] as const;

export const policyPath = (name: string): string => `${BASE}/validatingadmissionpolicies/${name}`;
export const bindingPath = (name: string): string => `${BASE}/validatingadmissionpolicybindings/${name}`;

/** What the cluster holds, by policy name; undefined where an object is missing. */
export type LivePolicies = Record<string, { policy: unknown; binding: unknown }>;

const show = (v: unknown): string => {
  const text = v === undefined ? "nothing" : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

function arrayDifference(want: unknown[], live: unknown, path: string): string | undefined {
  if (!Array.isArray(live) || live.length !== want.length)
    return `${path} is ${show(live)}, expected ${want.length} entries`;
  for (const [i, w] of want.entries()) {
    const d = firstDifference(w, live[i], `${path}[${i}]`);
    if (d !== undefined) return d;
  }
  return undefined;
}

function objectDifference(want: object, live: unknown, path: string): string | undefined {
  if (live === null || typeof live !== "object" || Array.isArray(live))
    return `${path} is ${show(live)}, expected an object`;
  for (const [k, w] of Object.entries(want)) {
    const d = firstDifference(w, (live as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    if (d !== undefined) return d;
  }
  return undefined;
}

/**
 * The first place where `live` lacks or differs from what `want` sets, as a
 * path and the two values; undefined when it holds all of it. Fields only the
 * live object has (the apiserver's defaults) do not count. Pure.
 */
export function firstDifference(want: unknown, live: unknown, path = ""): string | undefined {
  if (Array.isArray(want)) return arrayDifference(want, live, path);
  if (want !== null && typeof want === "object") return objectDifference(want, live, path);
  return want === live ? undefined : `${path} is ${show(live)}, expected ${show(want)}`;
}

const CONSEQUENCE =
  "without it a CPA's author could obtain through the operator what they may not do themselves, so no CPA is provisioned. " +
  "Apply this release's config/cluster.yaml (or its chart) as docs/security.md says, " +
  "or start the operator with --skip-admission-policy-check to run without it";

/** What is wrong with the policies and bindings the cluster has, or undefined when they are this release's. Pure. */
export function policyProblem(live: LivePolicies): string | undefined {
  const checks = GUARDED_POLICIES.flatMap((g) => [
    { what: `ValidatingAdmissionPolicy ${g.name}`, want: g.policy(), live: live[g.name]?.policy },
    { what: `ValidatingAdmissionPolicyBinding ${g.name}`, want: g.binding(), live: live[g.name]?.binding },
  ]);
  for (const c of checks) {
    if (c.live === undefined) return `the ${c.what} is missing: ${CONSEQUENCE}`;
    const spec = (o: unknown): unknown => (o as { spec?: unknown }).spec;
    const d = firstDifference(spec(c.want), spec(c.live), "spec");
    if (d !== undefined) return `the ${c.what} is not the one this operator ships (${d}): ${CONSEQUENCE}`;
  }
  return undefined;
}

export interface AdmissionGuardOptions {
  http: KubeClient;
  log: Logger;
  intervalMs: number;
  /** Called when the answer changes (problem to none, or back): the CPAs need another pass. */
  onChange: () => void;
}

/** The policy check, at start and every interval; `problem` is what it last found. */
export class AdmissionGuard {
  readonly #o: AdmissionGuardOptions;
  #problem: string | undefined = "the admission policy has not been checked yet";

  constructor(opts: AdmissionGuardOptions) {
    this.#o = opts;
  }

  get problem(): string | undefined {
    return this.#problem;
  }

  async #read(path: string): Promise<unknown> {
    try {
      return await this.#o.http.request("GET", path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async #readAll(): Promise<LivePolicies> {
    const live: LivePolicies = {};
    for (const g of GUARDED_POLICIES)
      live[g.name] = {
        policy: await this.#read(policyPath(g.name)),
        binding: await this.#read(bindingPath(g.name)),
      };
    return live;
  }

  /** Reads every object; a transient failure keeps the last answer (logged), a refusal is a problem. */
  async check(): Promise<void> {
    let problem: string | undefined;
    try {
      problem = policyProblem(await this.#readAll());
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 403) {
        problem =
          `the operator may not read its admission policies (${err.message}): ` +
          "bind it to the cpa-operator-admission-policy ClusterRole as docs/operator.md's install says; until then no CPA is provisioned";
      } else {
        this.#o.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          "Could not check the admission policy; keeping the last answer",
        );
        return;
      }
    }
    if (problem === this.#problem) return;
    const was = this.#problem;
    this.#problem = problem;
    if (problem === undefined)
      this.#o.log.info(
        { policies: GUARDED_POLICIES.map((g) => g.name) },
        "The admission policies are in place; provisioning",
      );
    else this.#o.log.error({ problem }, "Not provisioning any CPA");
    if (was !== undefined || problem !== undefined) this.#o.onChange();
  }

  /** Checks every interval until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (await pause(this.#o.intervalMs, signal)) await this.check();
  }
}

/** Waits `ms`; false when the signal aborted first (or already had). */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
