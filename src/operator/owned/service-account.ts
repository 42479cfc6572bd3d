// The ServiceAccount the autoscaler Pod runs as: the CPA's own, or, with
// provisionServiceAccount: false, the one spec.template names.
import { Reason } from "../../api/conditions.ts";
import type { ResourceType } from "../../kube/writes.ts";
import { podServiceAccountName } from "../desired/pod.ts";
import { desiredServiceAccount } from "../desired/service-account.ts";
import { ensure, type Pass } from "../pass.ts";
import type { Found, OwnedKind } from "./kind.ts";

const type: ResourceType = { group: "", version: "v1", resource: "serviceaccounts" };

export const serviceAccountKind: OwnedKind = {
  kind: "ServiceAccount",
  type,
  flag: "provisionServiceAccount",
  kept: {},
  compared: [],
  mend: { by: "apply" },
  deletes: false,
  verbs: ["get", "list", "watch", "create", "patch"],
  after: [],
  advice:
    "no autoscaler Pod runs until then. Delete it, rename the CustomPodAutoscaler, or set provisionServiceAccount: false to run as it",
  rejected: Reason.ProvisionFailed,
  step: async (pass, found) => {
    found.serviceAccount = await podServiceAccount(pass, found);
  },
};

/**
 * The ServiceAccount the autoscaler Pod may run as, or undefined when it may
 * not run: never the operator's own, and, when the operator provisions it,
 * only the one this CPA owns (a namesake someone else made could carry any
 * rights).
 */
async function podServiceAccount(pass: Pass, found: Found): Promise<string | undefined> {
  const { cpa, deps } = pass;
  const provision = found.flags.provisionServiceAccount;
  const name = podServiceAccountName(cpa, provision);
  const own = deps.operatorServiceAccount;
  if (own?.namespace === cpa.metadata.namespace && own.name === name) {
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
  return (await ensure(pass, serviceAccountKind, desiredServiceAccount(cpa))) === "ours" ? name : undefined;
}
