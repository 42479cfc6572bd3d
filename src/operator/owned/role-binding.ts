// The RoleBinding of the CPA's Role to the autoscaler Pod's ServiceAccount.
import { Reason } from "../../api/conditions.ts";
import type { ResourceType } from "../../kube/writes.ts";
import { desiredRoleBinding } from "../desired/role-binding.ts";
import { cached, deleteIgnoringGone, ensure } from "../pass.ts";
import { ownershipOf } from "../ownership.ts";
import type { OwnedKind } from "./kind.ts";

const type: ResourceType = { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings" };

export const roleBindingKind: OwnedKind = {
  kind: "RoleBinding",
  type,
  flag: "provisionRoleBinding",
  kept: { roleRef: true, subjects: true },
  compared: ["subjects"],
  // The API refuses to change a roleRef in place.
  mend: { by: "apply", recreateWhen: ["roleRef"] },
  deletes: true,
  verbs: ["get", "list", "watch", "create", "patch", "delete"],
  after: ["ServiceAccount", "Role"],
  advice: "Delete it, or set provisionRoleBinding: false to keep it",
  rejected: Reason.ProvisionFailed,
  /**
   * Binds the Role to the Pod's ServiceAccount, but only a Role the operator
   * may bind (ours, or the user's with provisionRole: false) to a
   * ServiceAccount the Pod may use; otherwise a RoleBinding of ours is
   * removed, so a Role someone else slipped in under the CPA's name is never
   * bound.
   */
  step: async (pass, found) => {
    if (!found.flags.provisionRoleBinding) return;
    const { cpa } = pass;
    if (found.serviceAccount !== undefined && found.roleBindable === true) {
      await ensure(pass, roleBindingKind, desiredRoleBinding(cpa, found.serviceAccount));
      return;
    }
    const live = cached(pass, roleBindingKind, cpa.metadata.name);
    if (!live || ownershipOf(live, cpa) !== "ours" || live.metadata?.deletionTimestamp) return;
    await deleteIgnoringGone(pass, roleBindingKind, live);
    pass.actions.push({
      reason: "Deleted",
      message: `Deleted RoleBinding ${cpa.metadata.name}: its Role or ServiceAccount is not this CustomPodAutoscaler's`,
    });
  },
};
