// The operator relies on its admission policy (admission-policy.ts) to refuse a
// CPA whose author could not do themselves what the operator would do for them.
// Without it, or with a weakened one, provisioning would hand CPA authors the
// operator's rights. So the operator checks, at start and then periodically,
// that the policy and its binding exist and hold what this release ships, and
// provisions nothing while they do not (an admin may opt out with
// --skip-admission-policy-check, knowing what they lose).
import type { Logger } from "pino";
import { isNotFound, KubeApiError, type KubeClient } from "../kube/http.ts";
import { ADMISSION_POLICY_NAME, admissionPolicy, admissionPolicyBinding } from "./admission-policy.ts";

const BASE = "/apis/admissionregistration.k8s.io/v1";
export const POLICY_PATH = `${BASE}/validatingadmissionpolicies/${ADMISSION_POLICY_NAME}`;
export const BINDING_PATH = `${BASE}/validatingadmissionpolicybindings/${ADMISSION_POLICY_NAME}`;

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

/** What is wrong with the policy and binding the cluster has, or undefined when they are this release's. Pure. */
export function policyProblem(live: { policy: unknown; binding: unknown }): string | undefined {
  const checks = [
    {
      what: `ValidatingAdmissionPolicy ${ADMISSION_POLICY_NAME}`,
      want: admissionPolicy(),
      live: live.policy,
    },
    {
      what: `ValidatingAdmissionPolicyBinding ${ADMISSION_POLICY_NAME}`,
      want: admissionPolicyBinding(),
      live: live.binding,
    },
  ];
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

  /** Reads both objects; a transient failure keeps the last answer (logged), a refusal is a problem. */
  async check(): Promise<void> {
    let problem: string | undefined;
    try {
      problem = policyProblem({
        policy: await this.#read(POLICY_PATH),
        binding: await this.#read(BINDING_PATH),
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 403) {
        problem =
          `the operator may not read the admission policy ${ADMISSION_POLICY_NAME} (${err.message}): ` +
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
      this.#o.log.info({ policy: ADMISSION_POLICY_NAME }, "The admission policy is in place; provisioning");
    else this.#o.log.error({ policy: ADMISSION_POLICY_NAME, problem }, "Not provisioning any CPA");
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
