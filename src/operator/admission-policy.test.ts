// The Role and the admission policy come from one list (ROLE_GRANTS): every
// rule the Role can grant beyond the CPA itself is a check of its author's
// rights in the policy, and the policy checks nothing else but what the Pod
// and the RoleBinding need.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GROUP, PLURAL } from "../api/names.ts";
import { admissionPolicy } from "./admission-policy.ts";
import { desiredRole } from "./desired/role.ts";
import { cpaFixture, DEPLOYMENTS } from "./desired/fixtures.ts";

interface Validation {
  expression: string;
  messageExpression: string;
}

const policyChecks = (): string[] => {
  const spec = (admissionPolicy() as { spec: { validations: Validation[] } }).spec;
  return spec.validations.flatMap((v) => {
    const call =
      /authorizer\.group\(([^)]*)\)\.resource\(([^)]*)\)(?:\.subresource\('([^']*)'\))?.*\.check\('([^']*)'\)/.exec(
        v.expression,
      );
    if (!call) return [];
    const [, group = "", resource = "", sub, verb = ""] = call;
    const strip = (x: string) =>
      x.startsWith("variables.") ? `<target ${x.slice(10)}>` : x.replace(/'/g, "");
    return [`${verb} ${strip(group)}/${strip(resource)}${sub ? `/${sub}` : ""}`];
  });
};

/** Every rule of a Role with all flags set, in the same words; the target as the policy names it. */
function roleRules(): { checked: string[]; own: string[] } {
  const cpa = cpaFixture({
    roleRequiresMetricsServer: true,
    roleRequiresArgoRollouts: true,
    roleRequiresPodDeletionCost: true,
  });
  const role = desiredRole(cpa, DEPLOYMENTS);
  const checked: string[] = [];
  const own: string[] = [];
  for (const rule of role.rules ?? [])
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const verb of rule.verbs) {
          const onTarget = group === "apps" && resource.startsWith("deployments");
          const words = onTarget
            ? `${verb} <target group>/<target resource>${resource.endsWith("/scale") ? "/scale" : ""}`
            : `${verb} ${group}/${resource}`;
          const isOwn = (group === GROUP && resource.startsWith(PLURAL)) || resource === "events";
          (isOwn ? own : checked).push(words);
        }
  return { checked, own };
}

test("the policy checks every rule the Role grants beyond the CPA's own object, status and Events", () => {
  const checks = new Set(policyChecks());
  const { checked, own } = roleRules();
  assert.deepEqual(
    checked.filter((r) => !checks.has(r)),
    [],
    "rules the Role grants that the policy does not check",
  );
  assert.ok(checked.includes("list /pods"), "namespace-wide pod listing is in the Role");
  assert.ok(checked.includes("get <target group>/<target resource>"));
  assert.ok(checked.includes("patch <target group>/<target resource>/scale"));
  // Kubernetes' edit role leaves out /status: a user with edit + cpa-edit must still be able to create CPAs.
  assert.deepEqual(
    own.filter((r) => checks.has(r)),
    [],
  );
});

test("the policy checks nothing the Role does not grant but the Pod and the RoleBinding", () => {
  const { checked } = roleRules();
  const extra = policyChecks().filter((c) => !checked.includes(c));
  assert.deepEqual(extra, [
    "create /pods",
    "bind rbac.authorization.k8s.io/roles",
    "create rbac.authorization.k8s.io/rolebindings",
  ]);
});
