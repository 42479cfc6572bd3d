import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstDifference, policyProblem } from "./admission-guard.ts";
import { admissionPolicy, admissionPolicyBinding } from "./admission-policy.ts";

/** What the apiserver returns: ours plus the defaults it fills in. */
const served = <T extends object>(o: T, extra: Record<string, unknown>): T => {
  const copy = structuredClone(o) as T & { spec: Record<string, unknown> };
  const spec = copy.spec;
  for (const [k, v] of Object.entries(extra)) {
    const mine = spec[k];
    spec[k] =
      mine !== null && typeof mine === "object" && v !== null && typeof v === "object"
        ? { ...v, ...mine }
        : v;
  }
  return copy;
};

describe("firstDifference", () => {
  test("fields only the live object has (defaults) do not count", () => {
    assert.equal(
      firstDifference({ a: 1, b: [{ c: "x" }] }, { a: 1, b: [{ c: "x", d: 2 }], e: 3 }),
      undefined,
    );
  });
  test("names the first path that lacks or differs from what is wanted", () => {
    assert.equal(firstDifference({ a: { b: "x" } }, { a: { b: "y" } }), 'a.b is "y", expected "x"');
    assert.equal(firstDifference({ a: [1, 2] }, { a: [1] }), "a is [1], expected 2 entries");
    assert.equal(firstDifference({ a: { b: 1 } }, {}), "a is nothing, expected an object");
  });
});

describe("policyProblem", () => {
  const policy = served(admissionPolicy(), { matchConstraints: { matchPolicy: "Equivalent" } });
  const binding = served(admissionPolicyBinding(), {});

  test("this release's policy and binding, as served with defaults, are no problem", () => {
    assert.equal(policyProblem({ policy, binding }), undefined);
  });

  test("a missing object is named, with what its absence allows and the way out", () => {
    const problem = policyProblem({ policy, binding: undefined }) ?? "";
    assert.match(problem, /^the ValidatingAdmissionPolicyBinding cpa-requester-rights is missing: /);
    assert.match(problem, /obtain through the operator what they may not do themselves/);
    assert.match(problem, /--skip-admission-policy-check/);
  });

  test("a changed policy names the field", () => {
    const weakened = served(admissionPolicy(), { failurePolicy: "Ignore" });
    assert.match(
      policyProblem({ policy: weakened, binding }) ?? "",
      /not the one this operator ships \(spec\.failurePolicy is "Ignore", expected "Fail"\)/,
    );
  });
});
