import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resolveConfig, type Config } from "../autoscaler/config.ts";
import { rootConfig } from "./run-root.ts";
import { shorten, whole } from "./run.ts";

function config(file: Record<string, unknown>): Config {
  const base = { scaleTargetRef: { kind: "Deployment", name: "web", apiVersion: "apps/v1" } };
  return resolveConfig({ ...base, ...file }, "/work/config.yaml", {}).config;
}

/** The files of the folder standing for the image's `/`. */
const files = new Set(["/work/img/metric.py", "/work/img/app/scaler.ts", "/work/img/certs/ca.crt"]);
const exists = (path: string): boolean => files.has(path);

describe("cpa run --root", () => {
  test("a shell stage's absolute arguments that exist under the root are read from there", () => {
    const { config: rooted, mapped } = rootConfig(
      config({
        metric: { type: "shell", shell: { entrypoint: "python", command: ["/metric.py", "--flag"] } },
        evaluate: { type: "shell", shell: { entrypoint: "/bin/sh", command: ["-c", "/evaluate.py"] } },
      }),
      "/work/img",
      exists,
    );
    assert.deepEqual(rooted.metric.shell, {
      entrypoint: "python",
      command: ["/work/img/metric.py", "--flag"],
    });
    // Not under the root: the workstation's own /bin/sh, and a file the folder lacks.
    assert.deepEqual(rooted.evaluate.shell, { entrypoint: "/bin/sh", command: ["-c", "/evaluate.py"] });
    assert.deepEqual(mapped, [{ stage: "metric", from: "/metric.py", to: "/work/img/metric.py" }]);
  });

  test("the older one-string shell form, module paths and TLS files are mapped too", () => {
    const { config: rooted } = rootConfig(
      config({
        metric: { type: "shell", shell: "python /metric.py" },
        evaluate: { type: "module", module: { path: "/app/scaler.ts", export: "evaluate" } },
        preMetric: {
          type: "http",
          http: {
            method: "GET",
            url: "https://x",
            successCodes: [200],
            parameterMode: "query",
            caCert: "/certs/ca.crt",
          },
        },
      }),
      "/work/img",
      exists,
    );
    assert.equal(rooted.metric.shell, "python /work/img/metric.py");
    assert.equal(rooted.evaluate.module?.path, "/work/img/app/scaler.ts");
    assert.equal(rooted.preMetric?.http?.caCert, "/work/img/certs/ca.crt");
  });

  test("relative paths stay relative, and the original config is not changed", () => {
    const original = config({
      metric: { type: "shell", shell: { entrypoint: "python3", command: ["metric.py"] } },
      evaluate: { type: "module", module: { path: "./scaler.ts" } },
    });
    const before = structuredClone(original);
    const { config: rooted, mapped } = rootConfig(original, "/work/img", () => true);
    assert.deepEqual(rooted.metric.shell, { entrypoint: "python3", command: ["metric.py"] });
    assert.equal(rooted.evaluate.module?.path, "./scaler.ts");
    assert.deepEqual(mapped, []);
    assert.deepEqual(original, before);
  });
});

describe("how cpa run prints a stage's input", () => {
  test("by default on one line, cut at 400 characters with the full length", () => {
    const input = JSON.stringify({ resource: { name: "x".repeat(500) } });
    const line = shorten(input);
    assert.ok(line.startsWith('{"resource":{"name":"xxx'));
    assert.match(line, /… \(524 chars\)$/);
  });

  test("with --full whole, JSON indented under the label, anything else as it is", () => {
    const input = JSON.stringify({ resource: { name: "x".repeat(500) }, runType: "scaler" });
    const printed = whole(input);
    assert.ok(printed.includes("x".repeat(500)));
    assert.deepEqual(JSON.parse(printed), JSON.parse(input));
    assert.match(printed, /^\{\n {13}"resource": \{\n {15}"name"/);
    assert.equal(whole("3\n"), "3");
    assert.equal(whole("not json"), "not json");
  });
});
