// A shadow CPA (annotation custompodautoscaler.com/shadow: "true"): its Pod is
// told (CPA_SHADOW), its Role holds no /scale write, and the admission policy
// checks scale rights only where they are used.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CPA_SHADOW_ENV,
  PAUSED_REPLICAS_ANNOTATION,
  POD_HASH_ANNOTATION,
  SHADOW_ANNOTATION,
} from "../../api/names.ts";
import { admissionPolicy } from "../admission-policy.ts";
import { cpaFixture, DEPLOYMENTS } from "./fixtures.ts";
import { desiredPod } from "./pod.ts";
import { desiredRole } from "./role.ts";

const shadow = (annotations: Record<string, string> = { [SHADOW_ANNOTATION]: "true" }) => {
  const cpa = cpaFixture();
  cpa.metadata.annotations = annotations;
  return cpa;
};

const scaleRule = (cpa: ReturnType<typeof cpaFixture>) =>
  desiredRole(cpa, DEPLOYMENTS).rules?.find((r) => r.resources?.includes("deployments/scale"));

describe("a shadow CPA", () => {
  test("its Role reads /scale and never writes it; a live one's /scale rule is the one rule it always was", () => {
    assert.deepEqual(scaleRule(shadow())?.verbs, ["get"]);
    assert.deepEqual(scaleRule(cpaFixture())?.verbs, ["get", "update", "patch"]);
    assert.deepEqual(scaleRule(shadow({ [SHADOW_ANNOTATION]: "false" }))?.verbs, ["get", "update", "patch"]);
  });

  test("its Pod gets CPA_SHADOW, and turning it live replaces the Pod", () => {
    const env = (cpa: ReturnType<typeof cpaFixture>) => desiredPod(cpa, "sa").spec?.containers[0]?.env ?? [];
    assert.deepEqual(
      env(shadow()).find((e) => e.name === CPA_SHADOW_ENV),
      { name: CPA_SHADOW_ENV, value: "true" },
    );
    assert.equal(
      env(cpaFixture()).find((e) => e.name === CPA_SHADOW_ENV),
      undefined,
    );
    const hash = (cpa: ReturnType<typeof cpaFixture>) =>
      desiredPod(cpa, "sa").metadata?.annotations?.[POD_HASH_ANNOTATION];
    assert.notEqual(hash(shadow()), hash(cpaFixture()));
  });

  test("the admission policy runs when the annotation changes, and checks /scale writes unless a shadow is not paused", () => {
    const spec = (
      admissionPolicy() as {
        spec: {
          matchConditions: { expression: string }[];
          validations: { expression: string; messageExpression: string }[];
        };
      }
    ).spec;
    assert.ok(spec.matchConditions.some((c) => c.expression.includes(`'${SHADOW_ANNOTATION}'`)));
    const writes = spec.validations.filter((v) =>
      /\.subresource\('scale'\).*\.check\('(update|patch)'\)/.test(v.expression),
    );
    assert.equal(writes.length, 2);
    for (const v of writes) assert.match(v.expression, /\(!variables\.shadow \|\| variables\.paused\)/);
    const read = spec.validations.filter((v) =>
      /\.subresource\('scale'\).*\.check\('get'\)/.test(v.expression),
    );
    assert.equal(read.length, 1);
    assert.doesNotMatch(read[0]?.expression ?? "", /variables\.shadow/);
    assert.ok(PAUSED_REPLICAS_ANNOTATION.length > 0);
  });
});
