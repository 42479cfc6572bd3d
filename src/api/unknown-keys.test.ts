import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { configSchema } from "./autoscaler-config.ts";
import { nearest, unknownKeys, unknownKeyWarning } from "./unknown-keys.ts";

describe("unknownKeys", () => {
  test("none in a configuration of known keys, at any depth", () => {
    const config = {
      interval: 1000,
      metric: {
        type: "shell",
        timeout: 100,
        shell: { entrypoint: "python", command: ["/m.py"], logStderr: true },
      },
      evaluate: {
        type: "http",
        http: {
          method: "GET",
          url: "http://x",
          successCodes: [200],
          parameterMode: "query",
          headers: { "X-Any": "ok" },
        },
      },
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 60,
          policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
        },
      },
      kubernetesMetricSpecs: [
        { type: "Resource", resource: { name: "cpu", target: { type: "Utilization" } } },
      ],
    };
    assert.deepEqual(unknownKeys(config, configSchema), []);
  });

  test("a nested typo, with its path and the key it most likely meant", () => {
    const config = {
      metric: { type: "shell", shell: { entrypoint: "python", logStdErr: true } },
      evaluate: { type: "shell", shell: "python /e.py", timout: 5 },
      behavior: { scaleDown: { policies: [{ type: "Pods", value: 1, periodSeconds: 60, perodSeconds: 2 }] } },
    };
    assert.deepEqual(unknownKeys(config, configSchema), [
      { path: "metric.shell.logStdErr", nearest: "logStderr" },
      { path: "evaluate.timout", nearest: "timeout" },
      { path: "behavior.scaleDown.policies[0].perodSeconds", nearest: "periodSeconds" },
    ]);
  });

  test("kubernetesMetricSpecs items against the HPA's MetricSpec fields", () => {
    const config = {
      kubernetesMetricSpecs: [
        {
          type: "Resource",
          resource: { nmae: "cpu", target: { type: "Utilization", averageUtilisation: 50 } },
        },
        {
          type: "Pods",
          pods: {
            metric: { name: "q", selector: { matchLabels: { a: "b" } } },
            target: { type: "AverageValue" },
          },
        },
      ],
    };
    assert.deepEqual(unknownKeys(config, configSchema), [
      { path: "kubernetesMetricSpecs[0].resource.nmae", nearest: "name" },
      { path: "kubernetesMetricSpecs[0].resource.target.averageUtilisation", nearest: "averageUtilization" },
    ]);
  });

  test("a key far from every known one gets no guess", () => {
    assert.deepEqual(unknownKeys({ somethingElse: 1 }, configSchema), [{ path: "somethingElse" }]);
    assert.equal(
      unknownKeyWarning({ path: "somethingElse" }),
      "unknown key somethingElse is ignored (a typo?)",
    );
    assert.equal(
      unknownKeyWarning({ path: "intervall", nearest: "interval" }),
      "unknown key intervall is ignored (did you mean interval?)",
    );
  });
});

describe("nearest", () => {
  test("case aside first, then the closest within a few edits", () => {
    assert.equal(nearest("LOGSTDERR", ["logStderr", "timeout"]), "logStderr");
    assert.equal(nearest("intervall", ["interval", "namespace"]), "interval");
    assert.equal(nearest("zzz", ["interval"]), undefined);
  });
});
