import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SPEC_DEFAULTS } from "../../api/custom-pod-autoscaler.ts";
import { customResourceDefinition } from "../../api/crd.ts";
import { keepFor } from "../cache.ts";
import { OPERATOR_RULES } from "../permissions.ts";
import { stepOrder, verbsNeeded, type OwnedKind } from "./kind.ts";
import { OWNED_KINDS, serviceAccountKind } from "./index.ts";

/** The verbs OPERATOR_RULES grant on one resource of one group. */
function granted(group: string, resource: string): Set<string> {
  const verbs = new Set<string>();
  for (const r of OPERATOR_RULES)
    if (r.apiGroups?.includes(group) && r.resources?.includes(resource) && !r.resourceNames)
      for (const v of r.verbs) verbs.add(v);
  return verbs;
}

describe("every owned kind", () => {
  test("declares exactly the verbs its caching and mending take", () => {
    for (const k of OWNED_KINDS)
      assert.deepEqual([...k.verbs].sort(), verbsNeeded(k).sort(), `${k.kind}: verbs`);
  });

  test("is granted its verbs by the operator's Role", () => {
    for (const k of OWNED_KINDS) {
      const held = granted(k.type.group, k.type.resource);
      for (const v of k.verbs) assert.ok(held.has(v), `${k.kind}: the operator's Role lacks ${v}`);
    }
  });

  test("keeps in the cache every field it compares or recreates on", () => {
    for (const k of OWNED_KINDS) {
      const read = [...k.compared, ...(k.mend.by === "apply" ? (k.mend.recreateWhen ?? []) : [])];
      for (const f of read) assert.ok(f in k.kept, `${k.kind}: ${f} is compared but not cached`);
      const obj = { apiVersion: "v1", kind: k.kind, metadata: { name: "n" } } as Record<string, unknown>;
      for (const f of read) obj[f] = { x: 1 };
      const kept = keepFor(k.kind)(obj) as Record<string, unknown>;
      for (const f of read) assert.deepEqual(kept[f], { x: 1 }, `${k.kind}: ${f} is dropped by the cache`);
    }
  });

  test("has a provision flag of its own that the CRD and the defaults know", () => {
    const spec = customResourceDefinition().spec.versions[0]?.schema.openAPIV3Schema.properties?.["spec"];
    const flags = OWNED_KINDS.map((k) => k.flag);
    assert.equal(new Set(flags).size, flags.length);
    for (const k of OWNED_KINDS) {
      assert.equal(SPEC_DEFAULTS[k.flag], true, `${k.kind}: ${k.flag} defaults to true`);
      assert.ok(spec?.properties?.[k.flag], `${k.kind}: the CRD has no spec.${k.flag}`);
    }
  });

  test("has a kind and a resource no other owned kind has", () => {
    assert.equal(new Set(OWNED_KINDS.map((k) => k.kind)).size, OWNED_KINDS.length);
    assert.equal(
      new Set(OWNED_KINDS.map((k) => `${k.type.group}/${k.type.resource}`)).size,
      OWNED_KINDS.length,
    );
  });
});

describe("the step order", () => {
  test("of the owned kinds: ServiceAccount and Role, then RoleBinding and Pod", () => {
    assert.deepEqual(
      stepOrder(OWNED_KINDS).map((g) => g.map((k) => k.kind)),
      [
        ["ServiceAccount", "Role"],
        ["RoleBinding", "Pod"],
      ],
    );
  });

  const kind = (name: string, after: string[]): OwnedKind => ({ ...serviceAccountKind, kind: name, after });

  test("refuses a kind that waits on one not listed", () => {
    assert.throws(
      () => stepOrder([kind("A", ["B"])]),
      /owned kind A runs after B, which is not an owned kind/,
    );
  });

  test("refuses kinds that wait on each other", () => {
    assert.throws(
      () => stepOrder([kind("A", ["B"]), kind("B", ["A"]), kind("C", [])]),
      /owned kinds A, B wait on each other/,
    );
  });
});
