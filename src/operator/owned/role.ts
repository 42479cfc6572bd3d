// The Role the autoscaler's ServiceAccount is bound to: what it may read and
// scale (desired/role.ts builds it from the target and the roleRequires flags).
import { Reason } from "../../api/conditions.ts";
import type { ResourceType } from "../../kube/writes.ts";
import { desiredRole } from "../desired/role.ts";
import { ensure } from "../pass.ts";
import type { OwnedKind } from "./kind.ts";

const type: ResourceType = { group: "rbac.authorization.k8s.io", version: "v1", resource: "roles" };

export const roleKind: OwnedKind = {
  kind: "Role",
  type,
  flag: "provisionRole",
  kept: { rules: true },
  compared: ["rules"],
  mend: { by: "apply" },
  deletes: false,
  verbs: ["get", "list", "watch", "create", "patch"],
  after: [],
  advice:
    "it is not bound. Delete it, or set provisionRole: false to bind it (which needs the bind permission on it)",
  rejected: Reason.RoleRejected,
  step: async (pass, found) => {
    // A Role the user brings (provisionRole: false) is theirs to bind: the admission policy checked they may.
    found.roleBindable = found.flags.provisionRole
      ? (await ensure(pass, roleKind, desiredRole(pass.cpa, found.target))) === "ours"
      : true;
  },
};
