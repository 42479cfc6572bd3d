import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PYTHON_DROPIN_IMAGE, PYTHON_IMAGE, RUNTIME_DROPIN_IMAGE } from "../local-pods/images.ts";
import {
  BEGIN,
  buildFailure,
  changesFor,
  CorpusError,
  END,
  EXAMPLES,
  passed,
  PYTHON_STAND_IN,
  recordInto,
  renderTable,
  rewriteDockerfile,
  withConfigEntry,
  type Result,
} from "./corpus.ts";

const golang = EXAMPLES.find((e) => e.name === "simple-pod-metrics-golang");

describe("rewriteDockerfile", () => {
  const original = [
    "# Pull in Python build of CPA",
    "FROM custompodautoscaler/python:latest",
    "RUN pip install -r /requirements.txt",
    "ADD config.yaml evaluate.py metric.py /",
  ].join("\n");

  test("changes the FROM line to the flavour's image and leaves every other line as it was", () => {
    const dropin = rewriteDockerfile(original, "dropin");
    assert.deepEqual(dropin.text.split("\n"), [
      "# Pull in Python build of CPA",
      `FROM ${PYTHON_DROPIN_IMAGE}`,
      "RUN pip install -r /requirements.txt",
      "ADD config.yaml evaluate.py metric.py /",
    ]);
    assert.deepEqual(dropin.changed, [
      { was: "FROM custompodautoscaler/python:latest", now: `FROM ${PYTHON_DROPIN_IMAGE}` },
    ]);
    assert.match(rewriteDockerfile(original, "hardened").text, new RegExp(`^FROM ${PYTHON_IMAGE}$`, "m"));
  });

  test("the Alpine base becomes our runtime, and its apk line the listed apt one", () => {
    const text = "FROM custompodautoscaler/alpine:latest\nRUN apk add jq curl\nADD config.yaml dist/x /\n";
    const out = rewriteDockerfile(text, "dropin", golang?.changes);
    assert.equal(
      out.text,
      `FROM ${RUNTIME_DROPIN_IMAGE}\nRUN apt-get update && apt-get install -y jq curl\nADD config.yaml dist/x /\n`,
    );
    assert.equal(out.changed.length, 2);
  });

  test("a base we have no stand-in for is an error naming the file and the line", () => {
    assert.throws(
      () => rewriteDockerfile("FROM golang:1.24\n", "dropin", [], "example/x/Dockerfile"),
      (err: unknown) =>
        err instanceof CorpusError &&
        /example\/x\/Dockerfile: "FROM golang:1.24" names an image/.test(err.message),
    );
    // flask-metric's FROM python is a listed change, not a base of ours.
    assert.equal(
      rewriteDockerfile("FROM python\nCMD x\n", "dropin", [PYTHON_STAND_IN]).text,
      `FROM ${PYTHON_DROPIN_IMAGE}\nCMD x\n`,
    );
  });

  test("a listed change whose line is gone says the example changed", () => {
    assert.throws(
      () => rewriteDockerfile("FROM custompodautoscaler/alpine\nRUN apk add jq\n", "dropin", golang?.changes),
      /no line "RUN apk add jq curl".*not the one it was written for/,
    );
  });
});

test("withConfigEntry adds a spec.config entry, replacing one of that name", () => {
  const cpa = {
    kind: "CustomPodAutoscaler",
    spec: {
      config: [
        { name: "interval", value: "10000" },
        { name: "metric", value: "old" },
      ],
    },
  };
  const out = withConfigEntry(cpa, "metric", "{}");
  assert.deepEqual(out.spec.config, [
    { name: "interval", value: "10000" },
    { name: "metric", value: "{}" },
  ]);
  assert.equal(cpa.spec.config[1]?.value, "old", "the input is not changed");
});

describe("the table", () => {
  const results: Result[] = [
    { example: "zero-scaler", flavour: "dropin", outcome: "pass", detail: "3 → 0 → 2", seconds: 40 },
    { example: "zero-scaler", flavour: "hardened", outcome: "pass", detail: "3 → 0 → 2", seconds: 41 },
    { example: "simple-pod-metrics-golang", flavour: "dropin", outcome: "fail", detail: "a | b", seconds: 9 },
    {
      example: "simple-pod-metrics-golang",
      flavour: "hardened",
      outcome: "not built",
      detail: "apt: denied",
      seconds: 3,
    },
  ];

  test("one row per example run, in the corpus's order, a column per flavour, pipes escaped", () => {
    const lines = renderTable(results).split("\n");
    assert.equal(lines[0], "| example | its README says | lines changed | on dropin | on hardened |");
    assert.equal(lines.length, 4);
    assert.match(
      lines[2] ?? "",
      /^\| `zero-scaler` \|.*\| FROM only \| ✅ pass: 3 → 0 → 2 \| ✅ pass: 3 → 0 → 2 \|$/,
    );
    assert.match(lines[3] ?? "", /❌ fail: a \\\| b \| ⛔ not built: apt: denied \|$/);
  });

  test("names the lines other than FROM an example changes", () => {
    const http = EXAMPLES.find((e) => e.name === "http-request");
    assert.ok(golang && http);
    assert.match(changesFor(golang), /^FROM; `RUN apk add jq curl` → `RUN apt-get/);
    assert.match(changesFor(http), /cpa\.yaml: a `metric` entry/);
  });

  test("the run passes only when every drop-in run passed; hardened results only inform", () => {
    assert.equal(passed(results), false);
    assert.equal(passed(results.filter((r) => r.example === "zero-scaler")), true);
    const notBuilt = results.filter((r) => r.outcome === "not built");
    assert.equal(passed(notBuilt), true);
  });

  test("recordInto replaces only the recorded part of the page", () => {
    const doc = `# Title\n\nintro\n\n${BEGIN}\nold table\n${END}\n\nafter\n`;
    assert.equal(recordInto(doc, "new"), `# Title\n\nintro\n\n${BEGIN}\nnew\n${END}\n\nafter\n`);
    assert.throws(() => recordInto("# no markers\n", "x"), /no <!-- compat:begin/);
  });
});

test("every example the issue lists is in the corpus, each with the target manifest its README applies", () => {
  assert.deepEqual(EXAMPLES.map((e) => e.name).sort(), [
    "argo-rollouts",
    "downscale-stabilization",
    "http-request",
    "k8s-metrics-cpu",
    "k8s-metrics-cpu-match-expressions",
    "post-scale-hook",
    "python-custom-autoscaler",
    "simple-pod-metrics-golang",
    "simple-pod-metrics-python",
    "zero-scaler",
  ]);
  for (const e of EXAMPLES)
    assert.match(e.target, /^(deployment|rollout)\.yaml$|^\.\.\/flask-metric\/deployment\.yaml$/);
});

test("buildFailure names the RUN step that failed, and why on the hardened flavour", () => {
  const output =
    'E: List directory /var/lib/apt/lists/partial is missing.\nsubprocess exited with status 100\nError: building at STEP "RUN apt-get update": exit status 100';
  assert.equal(
    buildFailure(output, "hardened"),
    "`RUN apt-get update` fails: RUN steps run as uid 65532 there, which cannot install Debian packages",
  );
  assert.match(buildFailure(output, "dropin"), /^`RUN apt-get update` fails: Error: building at STEP/);
  assert.equal(buildFailure("no such step\nboom", "dropin"), "no such step / boom");
});

test("stageError gives a failed stage's last stderr line: what a traceback says went wrong", async () => {
  const { stageError } = await import("./run.ts");
  const line = JSON.stringify({
    level: "error",
    stage: "postScale",
    stderr:
      "Traceback (most recent call last):\n  File \"/post_scale.py\", line 23\nPermissionError: [Errno 13] Permission denied: '/post_scale_data.json'\n",
  });
  assert.equal(
    stageError(line),
    "its postScale stage failed: PermissionError: [Errno 13] Permission denied: '/post_scale_data.json'",
  );
  assert.equal(stageError("plain text"), "plain text");
});

test("npm run compat without a checkout of the original stops at once, saying what to point it at", async () => {
  const { spawnSync } = await import("node:child_process");
  const main = new URL("./main.ts", import.meta.url).pathname;
  const env = { ...process.env, CPA_ORIGINAL_RUNTIME: "" };
  const none = spawnSync(process.execPath, [main], { encoding: "utf8", env });
  assert.equal(none.status, 2);
  assert.match(
    none.stderr,
    /--original DIR is required: a checkout of github\.com\/jthomperoo\/custom-pod-autoscaler/,
  );
  const wrong = spawnSync(process.execPath, [main, "--original", "/nonexistent"], { encoding: "utf8", env });
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /\/nonexistent has no example\/ folder/);
});
