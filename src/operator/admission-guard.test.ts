import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstDifference, policyProblem } from "./admission-guard.ts";
import { admissionPolicy, admissionPolicyBinding } from "./admission-policy.ts";
import { podCostPolicy, podCostPolicyBinding } from "./pod-cost-policy.ts";

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
  const cost = {
    policy: served(podCostPolicy(), { matchConstraints: { matchPolicy: "Equivalent" } }),
    binding: served(podCostPolicyBinding(), {}),
  };
  const live = (requester: object, podCost: object = cost) => ({
    "cpa-requester-rights": { policy, binding, ...requester },
    "cpa-pod-deletion-cost": { ...cost, ...podCost },
  });

  test("this release's policies and bindings, as served with defaults, are no problem", () => {
    assert.equal(policyProblem(live({})), undefined);
  });

  test("the deletion-cost policy is guarded too", () => {
    assert.match(
      policyProblem(live({}, { policy: undefined })) ?? "",
      /^the ValidatingAdmissionPolicy cpa-pod-deletion-cost is missing: /,
    );
    const weakened = served(podCostPolicy(), { failurePolicy: "Ignore" });
    assert.match(
      policyProblem(live({}, { policy: weakened })) ?? "",
      /ValidatingAdmissionPolicy cpa-pod-deletion-cost is not the one this operator ships \(spec\.failurePolicy/,
    );
  });

  test("a missing object is named, with what its absence allows and the way out", () => {
    const problem = policyProblem(live({ binding: undefined })) ?? "";
    assert.match(problem, /^the ValidatingAdmissionPolicyBinding cpa-requester-rights is missing: /);
    assert.match(problem, /obtain through the operator what they may not do themselves/);
    assert.match(problem, /--skip-admission-policy-check/);
  });

  test("a changed policy names the field", () => {
    const weakened = served(admissionPolicy(), { failurePolicy: "Ignore" });
    assert.match(
      policyProblem(live({ policy: weakened })) ?? "",
      /not the one this operator ships \(spec\.failurePolicy is "Ignore", expected "Fail"\)/,
    );
  });
});
