import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, parseConfigText, resolveConfig } from "./config.ts";

/** The seed guide's config.yaml, unchanged. */
const SEED = `
evaluate:
  type: "shell"
  timeout: 2500
  shell:
    entrypoint: "python"
    command:
      - "/evaluate.py"
metric:
  type: "shell"
  timeout: 2500
  shell:
    entrypoint: "python"
    command:
      - "/metric.py"
runMode: "per-resource"
`;

/** What the operator injects for the seed guide's cpa.yaml. */
const OPERATOR_ENV = {
  scaleTargetRef: '{"kind":"Deployment","name":"hello-kubernetes","apiVersion":"apps/v1"}',
  namespace: "default",
  interval: "10000",
};

const load = (env: Record<string, string>, text = SEED) =>
  resolveConfig(parseConfigText(text, "/config.yaml"), "/config.yaml", env);

function problemsOf(env: Record<string, string>, text = SEED): string[] {
  try {
    load(env, text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail("the configuration was accepted");
}

describe("loading the configuration", () => {
  test("the seed guide's file plus the operator's env gives the original's defaults and overrides", () => {
    const { config, sources } = load(OPERATOR_ENV);
    assert.deepEqual(config.scaleTargetRef, {
      kind: "Deployment",
      name: "hello-kubernetes",
      apiVersion: "apps/v1",
    });
    assert.equal(config.interval, 10_000);
    assert.equal(config.runMode, "per-resource");
    assert.equal(config.minReplicas, 1);
    assert.equal(config.maxReplicas, 10);
    assert.equal(config.startTime, 1);
    assert.equal(config.downscaleStabilization, 0);
    assert.deepEqual(config.apiConfig, {
      enabled: true,
      useHTTPS: false,
      port: 5000,
      host: "0.0.0.0",
      certFile: "",
      keyFile: "",
    });
    assert.deepEqual(config.metric.shell, { entrypoint: "python", command: ["/metric.py"] });
    assert.equal(config.configDir, "/");
    assert.deepEqual(sources["interval"], { kind: "env" });
    assert.deepEqual(sources["runMode"], { kind: "file", path: "/config.yaml" });
  });

  const overrides = [
    { name: "namespace is taken verbatim", env: { namespace: "team-a" }, key: "namespace", want: "team-a" },
    { name: "runMode is taken verbatim", env: { runMode: "per-pod" }, key: "runMode", want: "per-pod" },
    { name: "interval is a base-10 integer", env: { interval: "0500" }, key: "interval", want: 500 },
    { name: "other numbers are decoded as YAML", env: { maxReplicas: "20" }, key: "maxReplicas", want: 20 },
    {
      name: "a method may arrive as JSON",
      env: { evaluate: '{"type":"shell","timeout":100,"shell":{"entrypoint":"sh","command":["-c","echo"]}}' },
      key: "evaluate",
      want: { type: "shell", timeout: 100, shell: { entrypoint: "sh", command: ["-c", "echo"] } },
    },
    {
      name: "a method may arrive as YAML",
      env: { evaluate: "type: shell\nshell: python /e.py" },
      key: "evaluate",
      want: { type: "shell", shell: "python /e.py" },
    },
    {
      name: "apiConfig from env keeps the defaults of the keys it leaves out (the original lost them)",
      env: { apiConfig: '{"port": 6000}' },
      key: "apiConfig",
      want: { enabled: true, useHTTPS: false, port: 6000, host: "0.0.0.0", certFile: "", keyFile: "" },
    },
  ];
  for (const c of overrides) {
    test(`env overrides the file: ${c.name}`, () => {
      const { config } = load({ ...OPERATOR_ENV, ...c.env });
      assert.deepEqual((config as unknown as Record<string, unknown>)[c.key], c.want);
    });
  }

  test("unknown keys are reported, not fatal (the original ignored them)", () => {
    const { unknownKeys, warnings } = load(OPERATOR_ENV, `${SEED}\nintervall: 5\n`);
    assert.deepEqual(unknownKeys, ["intervall"]);
    assert.deepEqual(warnings, [
      "unknown key intervall is ignored (did you mean interval?) (in /config.yaml)",
    ]);
  });

  test("an unknown key below the top level, from the environment too, is reported with its path", () => {
    const { unknownKeys, warnings } = load(
      { ...OPERATOR_ENV, evaluate: '{"type":"shell","shell":"python /e.py","timout":5}' },
      `${SEED}\napiConfig:\n  enabld: false\n`,
    );
    assert.deepEqual(unknownKeys, ["evaluate.timout", "apiConfig.enabld"]);
    assert.ok(
      warnings.includes(
        "unknown key evaluate.timout is ignored (did you mean timeout?) (from env var evaluate)",
      ),
    );
  });

  test("shell.logStderr, where the original reads it, is known; when it and the method's differ, it wins and says so", () => {
    const nested = SEED.replace(
      'entrypoint: "python"\n    command:\n      - "/metric.py"',
      'entrypoint: "python"\n    logStderr: true\n    command:\n      - "/metric.py"',
    );
    assert.notEqual(nested, SEED);
    assert.deepEqual(load(OPERATOR_ENV, nested).warnings, []);
    const both = nested.replace('metric:\n  type: "shell"', 'metric:\n  logStderr: false\n  type: "shell"');
    assert.deepEqual(load(OPERATOR_ENV, both).warnings, [
      "metric.shell.logStderr (true) and metric.logStderr (false) differ: metric.shell.logStderr, where the original reads it, wins",
    ]);
  });

  const invalid = [
    {
      name: "no scaleTargetRef",
      env: { scaleTargetRef: undefined },
      problem: /^scaleTargetRef: required but not set; the operator sets it/,
    },
    {
      name: "a scaleTargetRef without a name, naming the env var it came from",
      env: { scaleTargetRef: '{"kind":"Deployment"}' },
      problem: /^scaleTargetRef.name: required but not set \(from env var scaleTargetRef\)/,
    },
    {
      name: "interval 0 (crashed the original)",
      env: { interval: "0" },
      problem: /^interval: must be >= 1, got 0 \(from env var interval\)/,
    },
    {
      name: "startTime 0 (crashed the original)",
      env: { startTime: "0" },
      problem: /^startTime: must be >= 1, got 0/,
    },
    {
      name: "an interval that is not a number",
      env: { interval: "10s" },
      problem: /^interval: expected a whole number, got "10s"/,
    },
    {
      name: "an unknown runMode",
      env: { runMode: "per-node" },
      problem:
        /^runMode: must be equal to one of the allowed values \("per-pod", "per-resource"\), got "per-node"/,
    },
    {
      name: "min above max",
      env: { minReplicas: "5", maxReplicas: "2" },
      problem: /^minReplicas \(5\) must not be greater than maxReplicas \(2\)/,
    },
    {
      name: "a method without its block",
      env: { metric: "type: http" },
      problem: /^metric: type is "http" but the "http" block is missing/,
    },
    {
      name: "a method of an unknown type",
      env: { metric: "type: grpc" },
      problem: /^metric.type: must be equal to one of the allowed values/,
    },
    {
      name: "a timeout of 0",
      env: { evaluate: "{type: shell, timeout: 0, shell: x}" },
      problem: /^evaluate.timeout: must be >= 1, got 0/,
    },
    {
      name: "env YAML that does not parse",
      env: { evaluate: "{type: [" },
      problem: /^evaluate: could not parse/,
    },
  ];
  for (const c of invalid) {
    test(`refuses ${c.name}, saying so`, () => {
      const env = Object.fromEntries(
        Object.entries({ ...OPERATOR_ENV, ...c.env }).filter(
          (e): e is [string, string] => e[1] !== undefined,
        ),
      );
      const problems = problemsOf(env);
      assert.ok(
        problems.some((p) => c.problem.test(p)),
        `got: ${problems.join(" | ")}`,
      );
    });
  }

  test("names the file for problems that came from it", () => {
    const problems = problemsOf(OPERATOR_ENV, `${SEED}\nminReplicas: -1\n`);
    assert.ok(
      problems.some((p) => p === "minReplicas: must be >= 0, got -1 (in /config.yaml)"),
      problems.join(" | "),
    );
  });

  test("a file that is not a mapping is refused", () => {
    assert.throws(() => parseConfigText("- a\n- b\n", "/config.yaml"), /expected a mapping of config keys/);
  });
});

describe("checks the schema alone cannot make", () => {
  test("HTTPS for the REST API needs both a certificate and a key", () => {
    const problems = problemsOf({
      ...OPERATOR_ENV,
      apiConfig: '{"useHTTPS": true, "certFile": "/tls/cert.pem"}',
    });
    assert.deepEqual(problems, ["apiConfig: useHTTPS is true but certFile and keyFile are not both set"]);
  });

  test("an interval Node's timers cannot hold is refused", () => {
    const problems = problemsOf({ ...OPERATOR_ENV, interval: "2147483648" });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /^interval: must be <= 2147483647/);
  });
});
