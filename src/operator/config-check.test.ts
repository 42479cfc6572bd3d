import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import { configProblems } from "./config-check.ts";
import { computeStatus } from "./status.ts";

const cpa = (config: Record<string, string>): CustomPodAutoscaler => ({
  apiVersion: "custompodautoscaler.com/v1",
  kind: "CustomPodAutoscaler",
  metadata: { name: "c", namespace: "ns", generation: 1 },
  spec: {
    template: { spec: { containers: [{ name: "c", image: "i" }] } },
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    config: Object.entries(config).map(([name, value]) => ({ name, value })),
  },
});

describe("checking spec.config before any Pod runs", () => {
  test("each known entry is parsed and checked as the runtime will, naming the entry", () => {
    assert.deepEqual(configProblems(cpa({ interval: "ten", minReplicas: "-3", runMode: "per-everything" })), [
      'interval: expected a whole number, got "ten" (from env var interval)',
      "minReplicas: must be >= 0, got -3 (from env var minReplicas)",
      'runMode: must be equal to one of the allowed values ("per-pod", "per-resource"), got "per-everything" (from env var runMode)',
    ]);
  });

  test("an entry that is not YAML is one line, however the parser puts it", () => {
    const [problem, ...rest] = configProblems(cpa({ evaluate: '{"type":"shell"' }));
    assert.deepEqual(rest, []);
    assert.match(
      problem ?? "",
      /^evaluate: could not parse .* \(from env var evaluate\): .*Flow map must end/,
    );
    assert.doesNotMatch(problem ?? "", /\n/);
  });

  test("what the image's config.yaml may supply is not a problem: required keys, and names the runtime does not read", () => {
    assert.deepEqual(configProblems(cpa({ interval: "15000", MY_SCRIPT_SETTING: "x" })), []);
    assert.deepEqual(
      configProblems(
        cpa({
          metric: '{"type":"shell","timeout":2500,"shell":{"entrypoint":"python","command":["/m.py"]}}',
        }),
      ),
      [],
    );
  });

  test("the ConfigValid condition says what is wrong, and never stops the Pod", () => {
    const now = new Date("2026-12-02T00:00:00Z");
    const pod = { state: "running", name: "c" } as const;
    const bad = computeStatus(
      cpa({}),
      { problems: [], pod, configProblems: ["interval: expected a whole number"] },
      now,
    );
    const valid = bad.conditions.find((c) => c.type === "ConfigValid");
    assert.equal(valid?.status, "False");
    assert.equal(valid.reason, "InvalidConfig");
    assert.match(valid.message, /^spec\.config: interval: expected a whole number\. /);
    assert.equal(bad.conditions.find((c) => c.type === "Ready")?.status, "True");
    const good = computeStatus(cpa({}), { problems: [], pod }, now);
    assert.equal(good.conditions.find((c) => c.type === "ConfigValid")?.status, "True");
  });
});
