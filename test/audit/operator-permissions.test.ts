// The operator holds exactly what it needs: what it sent during the whole
// integration suite (read from the apiserver's audit log), plus what the Roles
// it provisions may grant (RBAC lets it grant only what it holds), plus
// `update` on custompodautoscalers/finalizers, which
// OwnerReferencesPermissionEnforcement requires to create objects whose owner
// reference blocks the CPA's deletion. Runs after the suite (hack/integration.ts).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import type { V1PolicyRule } from "@kubernetes/client-node";
import { GROUP, PLURAL } from "../../src/api/names.ts";
import { cpaFixture } from "../../src/operator/desired/fixtures.ts";
import { desiredRole } from "../../src/operator/desired/role.ts";
import {
  BUILTIN_TARGETS,
  LEADER_ELECTION_RULES,
  OPERATOR_RULES,
  POLICY_READ_RULES,
} from "../../src/operator/permissions.ts";
import { auditLogPath } from "../../hack/plane/config.ts";
import { readState } from "../../hack/plane/plane.ts";

interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string };
}

/** `group resource[/subresource] verb`, the unit RBAC grants. */
const permission = (group: string, resource: string, verb: string): string => `${group}|${resource}|${verb}`;

function expand(rules: readonly V1PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? []) for (const v of r.verbs) out.add(permission(g, res, v));
  return out;
}

/** Granted to every authenticated user by the system:basic-user ClusterRole. */
const EVERYONE_MAY = new Set([permission("authentication.k8s.io", "selfsubjectreviews", "create")]);

function sentByOperators(log: string): Set<string> {
  const sent = new Set<string>();
  for (const line of log.split("\n")) {
    if (!line) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (!/^system:serviceaccount:[^:]+:cpa-operator$/.test(event.user.username)) continue;
    const ref = event.objectRef;
    // Discovery (/apis/...) is a non-resource request every user may make.
    if (!ref?.resource) continue;
    const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
    const p = permission(ref.apiGroup ?? "", resource, event.verb);
    if (!EVERYONE_MAY.has(p)) sent.add(p);
  }
  return sent;
}

/** Everything a provisioned Role may grant: every built-in target kind, every flag on. */
function grantable(): Set<string> {
  const cpa = cpaFixture({
    roleRequiresMetricsServer: true,
    roleRequiresArgoRollouts: true,
    roleRequiresPodDeletionCost: true,
  });
  const rules = BUILTIN_TARGETS.flatMap(
    (t) => desiredRole(cpa, { ...t, version: "v1", namespaced: true, scalable: true }).rules ?? [],
  );
  return expand(rules);
}

test("the operator holds exactly what it sent in the suite, what its Roles grant, and the finalizers right", (t) => {
  const state = readState();
  if (!state || state.kubeconfig !== process.env["KUBECONFIG"] || !existsSync(auditLogPath)) {
    t.skip("needs the local control plane's audit log; the suite ran against another cluster");
    return;
  }
  const sent = sentByOperators(readFileSync(auditLogPath, "utf8"));
  assert.ok(sent.size > 0, `no request by an operator in ${auditLogPath}`);
  const needed = new Set([...sent, ...grantable(), permission(GROUP, `${PLURAL}/finalizers`, "update")]);
  const held = expand([...OPERATOR_RULES, ...LEADER_ELECTION_RULES, ...POLICY_READ_RULES]);
  const words = (set: Iterable<string>): string[] => [...set].map((p) => p.replace(/\|/g, " ")).sort();
  assert.deepEqual(
    {
      heldButNeverNeeded: words([...held].filter((p) => !needed.has(p))),
      neededButNotHeld: words([...needed].filter((p) => !held.has(p))),
    },
    { heldButNeverNeeded: [], neededButNotHeld: [] },
    "src/operator/permissions.ts must hold exactly what the operator needs",
  );
});
