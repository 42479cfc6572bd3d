// The autoscaler runtime on the real control plane. Each autoscaler runs as the
// Pod the operator provisioned would: with that Pod's env, the image's files at
// their paths, and only the provisioned ServiceAccount's rights.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { installBundleWithoutItsOperator } from "../support/fixtures.ts";
import type { ImageFiles } from "../../hack/local-pods/pod-runner.ts";
import { cleanupOf, freePort, runCpa, runPod, startOperator } from "../support/processes.ts";
import { seedGuide } from "../support/seed-guide.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);
const seed = seedGuide();
const NAME = "python-custom-autoscaler";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanups) await fn();
});

before(async () => {
  await installBundleWithoutItsOperator();
  await startOperator((fn) => {
    cleanups.push(fn);
  });
});

async function apply(namespace: string, manifest: string): Promise<void> {
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], manifest);
  assert.equal(res.code, 0, res.stderr);
}

/** The seed guide's cpa.yaml with its config entries replaced (the guide's interval is 10 s). */
function cpaWithConfig(config: Record<string, string>): string {
  const entries = Object.entries(config)
    .map(([name, value]) => `    - name: ${name}\n      value: ${JSON.stringify(value)}\n`)
    .join("");
  return seed.cpaYaml.replace(/ {2}config:\n[\s\S]*$/, `  config:\n${entries}`);
}

async function replicas(namespace: string, name = "hello-kubernetes"): Promise<number | undefined> {
  return (await apps.readNamespacedDeploymentScale({ name, namespace })).spec?.replicas;
}

async function reachReplicas(namespace: string, want: number, timeoutMs = 30_000): Promise<void> {
  await eventually(
    `hello-kubernetes at ${want} replicas`,
    async () => ((await replicas(namespace)) === want ? true : undefined),
    timeoutMs,
  );
}

/** Applies the CPA, waits for the operator's Pod, and runs it as the kubelet would, with these image files. */
async function startAutoscaler(t: TestContext, namespace: string, cpaYaml: string, files: ImageFiles) {
  await apply(namespace, cpaYaml);
  const pod = await eventually("the operator to provision the autoscaler Pod", async () => {
    const p: V1Pod = await core.readNamespacedPod({ name: NAME, namespace });
    return p.status?.phase === "Running" ? p : undefined;
  });
  return runPod(cleanupOf(t), pod, files);
}

const seedFiles = (evaluatePy = seed.evaluatePy): ImageFiles => ({
  "/config.yaml": seed.configYaml,
  "/metric.py": seed.metricPy,
  "/evaluate.py": evaluatePy,
});

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

async function getCpa(namespace: string): Promise<CustomPodAutoscaler> {
  return (await custom.getNamespacedCustomObject({
    group: "custompodautoscaler.com",
    version: "v1",
    namespace,
    plural: "custompodautoscalers",
    name: NAME,
  })) as CustomPodAutoscaler;
}

describe("the seed guide's autoscaler, unchanged", () => {
  test("scales hello-kubernetes to its numPods label, 1 to 3, then to 5 after relabelling", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    assert.equal(await replicas(namespace), 1);
    const autoscaler = await startAutoscaler(t, namespace, cpaWithConfig({ interval: "1000" }), seedFiles());
    await reachReplicas(namespace, 3);

    const relabel = await kubectl([
      "label",
      "deployment/hello-kubernetes",
      "-n",
      namespace,
      "numPods=5",
      "--overwrite",
    ]);
    assert.equal(relabel.code, 0, relabel.stderr);
    await reachReplicas(namespace, 5);

    const status = await eventually("the status to show 5", async () => {
      const s = (await getCpa(namespace)).status;
      return s?.desiredReplicas === 5 && s.currentReplicas === 5 ? s : undefined;
    });
    assert.ok(status.lastScaleTime, "no lastScaleTime");
    assert.equal(status.decision?.evaluation, 5);
    const conditions = Object.fromEntries(
      (status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]),
    );
    assert.equal(conditions["AbleToScale"]?.startsWith("True/"), true);
    assert.equal(conditions["ScalingActive"], "True/ValidMetricFound");
    assert.equal(conditions["ScalingLimited"], "False/DesiredWithinRange");
    assert.equal(
      conditions["Ready"],
      "True/AutoscalerRunning",
      "the operator's conditions must survive the autoscaler's writes",
    );
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${NAME}`,
    });
    assert.ok(
      events.items.some((e) => e.reason === "SuccessfulRescale" && e.message?.startsWith("New size: 5")),
    );
    const columns = await kubectl(["get", "cpa", NAME, "-n", namespace]);
    assert.match(columns.stdout, new RegExp(`${NAME}\\s+Deployment/hello-kubernetes\\s+5\\s+5\\s+True`));
    assert.equal(autoscaler.child.exitCode, null, `the autoscaler exited:\n${autoscaler.output()}`);
  });

  test("a metric script that fails leaves the target as it is, logs its stderr, and the loop goes on", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml.replace('    numPods: "3"\n', '    other: "x"\n'));
    const autoscaler = await startAutoscaler(t, namespace, cpaWithConfig({ interval: "500" }), seedFiles());
    await eventually("a logged metric failure", () =>
      autoscaler.output().includes("No 'numPods' label on resource being managed") ? true : undefined,
    );
    assert.equal(await replicas(namespace), 1);
    const cond = await eventually("ScalingActive=False", async () => {
      const c = (await getCpa(namespace)).status?.conditions?.find((x) => x.type === "ScalingActive");
      return c?.status === "False" ? c : undefined;
    });
    assert.equal(cond.reason, "FailedGetMetrics");
    // One Warning event for the failure, not one per run (the runs go on every 500 ms).
    await new Promise((r) => setTimeout(r, 1500));
    const warnings = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${NAME},reason=FailedGetMetrics,type=Warning`,
    });
    assert.equal(warnings.items.length, 1, JSON.stringify(warnings.items.map((e) => e.message)));
    assert.equal(warnings.items[0]?.count ?? 1, 1);
    assert.match(warnings.items[0]?.message ?? "", /No 'numPods' label/);
    await kubectl(["label", "deployment/hello-kubernetes", "-n", namespace, "numPods=2"]);
    await reachReplicas(namespace, 2);
  });
});

describe("fallback", () => {
  test("after failureThreshold failed runs the target goes to fallback.replicas, with a condition and an event; a good run resumes", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml.replace('    numPods: "3"\n', '    other: "x"\n'));
    await startAutoscaler(
      t,
      namespace,
      cpaWithConfig({ interval: "300", fallback: '{"failureThreshold": 3, "replicas": 4}' }),
      seedFiles(),
    );
    await reachReplicas(namespace, 4);
    const cond = await eventually("ScalingActive=False FallbackActive", async () => {
      const c = (await getCpa(namespace)).status?.conditions?.find((x) => x.type === "ScalingActive");
      return c?.reason === "FallbackActive" ? c : undefined;
    });
    assert.match(cond.message, /runs failed in a row.*fallback\.replicas \(4\).*No 'numPods' label/);
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${NAME},reason=FallbackScale,type=Warning`,
    });
    assert.equal(events.items.length, 1, "one event: it scaled once, then held");
    assert.match(
      events.items[0]?.message ?? "",
      /^3 runs failed in a row: set the target to fallback\.replicas, 4 \(it had 1\)/,
    );
    await kubectl(["label", "deployment/hello-kubernetes", "-n", namespace, "numPods=2"]);
    await reachReplicas(namespace, 2);
    await eventually("ScalingActive=True again", async () => {
      const c = (await getCpa(namespace)).status?.conditions?.find((x) => x.type === "ScalingActive");
      return c?.status === "True" ? c : undefined;
    });
  });
});

/**
 * Stops the running autoscaler, deletes its Pod (or runs another kubectl
 * command that replaces it), and runs the one the operator provisions in its place.
 */
async function replaceAutoscaler(
  t: TestContext,
  namespace: string,
  old: Awaited<ReturnType<typeof runPod>>,
  files: ImageFiles,
  // Not --wait: the operator makes the new Pod under the same name at once, and kubectl would wait for that one too.
  replace: string[] = ["delete", "pod", NAME, "-n", namespace, "--wait=false"],
) {
  const oldUid = (await core.readNamespacedPod({ name: NAME, namespace })).metadata?.uid;
  await old.stop();
  const replaced = await kubectl(replace);
  assert.equal(replaced.code, 0, replaced.stderr);
  const pod = await eventually("the operator to provision a new autoscaler Pod", async () => {
    const p = await core.readNamespacedPod({ name: NAME, namespace }).catch(() => undefined);
    return p && p.metadata?.uid !== oldUid && p.status?.phase === "Running" ? p : undefined;
  });
  return runPod(cleanupOf(t), pod, files);
}

describe("history and state that outlive the autoscaler Pod", () => {
  test("a Pod replaced while the stabilisation window holds 5 replicas is followed by one that keeps holding until the window ends; a run that changes no value writes nothing", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml.replace('numPods: "3"', 'numPods: "5"'));
    const cpa = cpaWithConfig({ interval: "1000", downscaleStabilization: "40" });
    const first = await startAutoscaler(t, namespace, cpa, seedFiles());
    await reachReplicas(namespace, 5);
    await kubectl(["label", "deployment/hello-kubernetes", "-n", namespace, "numPods=1", "--overwrite"]);
    const held = await eventually("the window to hold 5", async () => {
      const s = (await getCpa(namespace)).status;
      return s?.decision?.evaluation === 1 && s.desiredReplicas === 5 ? s : undefined;
    });
    assert.deepEqual(
      held.history?.recommendations?.map((e) => e.replicas),
      [5, 1],
      JSON.stringify(held.history),
    );
    assert.equal(held.history.target, "apps/v1/Deployment/hello-kubernetes");
    // Runs go on every second and each sees 1 again: only times change, so nothing is written.
    const rv = (await getCpa(namespace)).metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(
      (await getCpa(namespace)).metadata.resourceVersion,
      rv,
      "a run that changed no value wrote the CPA",
    );
    const fiveAt = Date.parse(held.history.recommendations[0]?.at ?? "");

    const second = await replaceAutoscaler(t, namespace, first, seedFiles());
    await eventually("the new autoscaler's first run", () =>
      /Evaluated|Scaling/.test(second.output()) ? true : undefined,
    );
    // Until the window ends, 40 s after the last 5, the new autoscaler holds as the old one would have.
    while (Date.now() < fiveAt + 35_000) {
      assert.equal(
        await replicas(namespace),
        5,
        `scaled down ${Math.round((Date.now() - fiveAt) / 1000)} s after the 5`,
      );
      await new Promise((r) => setTimeout(r, 1000));
    }
    await reachReplicas(namespace, 1, 30_000);
    assert.ok(Date.now() >= fiveAt + 40_000, "scaled down before the window ended");
    assert.match(second.output(), /Decision history and state loaded/);
    assert.equal(second.child.exitCode, null, second.output());
  });

  test("a CPA edited to scale another target drops the history, with a HistoryDropped event", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml.replace('numPods: "3"', 'numPods: "5"'));
    await apply(namespace, seed.deploymentYaml.replaceAll("hello-kubernetes", "other"));
    const cpa = cpaWithConfig({ interval: "1000", downscaleStabilization: "40" });
    const first = await startAutoscaler(t, namespace, cpa, seedFiles());
    await reachReplicas(namespace, 5);
    await eventually(
      "a history for hello-kubernetes",
      async () =>
        (await getCpa(namespace)).status?.history?.target === "apps/v1/Deployment/hello-kubernetes" ||
        undefined,
    );
    const patch = JSON.stringify({
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "other" } },
    });
    const second = await replaceAutoscaler(t, namespace, first, seedFiles(), [
      "patch",
      "cpa",
      NAME,
      "-n",
      namespace,
      "--type=merge",
      "-p",
      patch,
    ]);
    await eventually(
      "the new autoscaler to scale other to 3",
      async () => (await replicas(namespace, "other")) === 3 || undefined,
    );
    assert.match(
      second.output(),
      /Decision history dropped: the history in status is for apps\/v1\/Deployment\/hello-kubernetes/,
    );
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${NAME},reason=HistoryDropped`,
    });
    assert.equal(events.items.length, 1);
    assert.match(events.items[0]?.message ?? "", /this autoscaler scales apps\/v1\/Deployment\/other/);
    await eventually(
      "the history to be other's",
      async () =>
        (await getCpa(namespace)).status?.history?.target === "apps/v1/Deployment/other" || undefined,
    );
  });

  test("with state.enabled, what evaluate returns as state comes back after the Pod is replaced", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    const counting = [
      "import json, sys",
      "spec = json.load(sys.stdin)",
      'state = spec.get("state") or {"runs": 0}',
      'state["runs"] += 1',
      'print(json.dumps({"targetReplicas": 2, "state": state}))',
    ].join("\n");
    const files = { ...seedFiles(counting), "/config.yaml": `${seed.configYaml}state:\n  enabled: true\n` };
    const first = await startAutoscaler(t, namespace, cpaWithConfig({ interval: "1000" }), files);
    const runsInStatus = async (): Promise<number | undefined> => {
      const text = (await getCpa(namespace)).status?.history?.state;
      return text === undefined ? undefined : (JSON.parse(text) as { runs: number }).runs;
    };
    await eventually("3 runs in the state", async () => ((await runsInStatus()) ?? 0) >= 3 || undefined);
    await first.stop();
    const before = await runsInStatus();
    assert.ok(before !== undefined && before >= 3);
    const second = await replaceAutoscaler(t, namespace, first, files);
    const after = await eventually("the new autoscaler's first state", async () => {
      const n = await runsInStatus();
      return n !== undefined && n !== before ? n : undefined;
    });
    assert.ok(
      after > before,
      `the state started again: ${before} runs before the replacement, ${after} after`,
    );
    assert.match(second.output(), /Decision history and state loaded/);
  });
});

describe("choosing which Pods go", () => {
  test("a scale-down removes the Pods evaluate named in podsToRemove, and keeps the one the ReplicaSet would have removed first", async (t) => {
    const namespace = await testNamespace(t);
    const pods = async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: "app=hello-kubernetes" })).items.filter(
        (p) => !p.metadata?.deletionTimestamp,
      );
    const podCount = (n: number) => async () => ((await pods()).length === n ? true : undefined);
    await apply(namespace, seed.deploymentYaml.replace("replicas: 1", "replicas: 3"));
    await eventually("3 pods", podCount(3));
    // The ReplicaSet removes the youngest Pods first (by creation time, in
    // logarithmic buckets): a fourth Pod seconds younger than the rest is the one it would remove.
    const older = new Set((await pods()).map((p) => p.metadata?.name ?? ""));
    await new Promise((r) => setTimeout(r, 3000));
    await kubectl(["scale", "deployment/hello-kubernetes", "-n", namespace, "--replicas=4"]);
    await eventually("4 pods", podCount(4));
    const keeper = (await pods()).map((p) => p.metadata?.name ?? "").find((n) => !older.has(n));
    assert.ok(keeper);
    const evaluate = JSON.stringify({
      type: "shell",
      shell: {
        entrypoint: "/bin/sh",
        command: ["-c", `echo '${JSON.stringify({ targetReplicas: 1, podsToRemove: [...older] })}'`],
      },
    });
    const metric = JSON.stringify({
      type: "shell",
      shell: { entrypoint: "/bin/sh", command: ["-c", "echo -n 0"] },
    });
    const cpa = cpaWithConfig({ interval: "500", runMode: "per-resource", metric, evaluate }).replace(
      "  config:\n",
      "  roleRequiresPodDeletionCost: true\n  config:\n",
    );
    const proc = await startAutoscaler(t, namespace, cpa, { "/config.yaml": "{}\n" });
    await reachReplicas(namespace, 1);
    await eventually("only the Pod evaluate kept", async () => {
      const left = (await pods()).map((p) => p.metadata?.name);
      return left.length === 1 && left[0] === keeper ? true : undefined;
    });
    assert.match(proc.output(), /Pod deletion costs written before the scale/);
    assert.doesNotMatch(proc.output(), /could not set the deletion cost/);
  });

  test("without roleRequiresPodDeletionCost the costs cannot be set: a warning naming the flag, and the scale goes ahead", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml.replace("replicas: 1", "replicas: 2"));
    await reachReplicas(namespace, 2);
    const names = async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: "app=hello-kubernetes" })).items.map(
        (p) => p.metadata?.name ?? "",
      );
    const [first] = await eventually("2 pods", async () => {
      const n = await names();
      return n.length === 2 ? n : undefined;
    });
    const evaluate = JSON.stringify({
      type: "shell",
      shell: {
        entrypoint: "/bin/sh",
        command: ["-c", `echo '{"targetReplicas": 1, "podsToRemove": ["${first}"]}'`],
      },
    });
    const metric = JSON.stringify({
      type: "shell",
      shell: { entrypoint: "/bin/sh", command: ["-c", "echo -n 0"] },
    });
    const proc = await startAutoscaler(
      t,
      namespace,
      cpaWithConfig({ interval: "500", runMode: "per-resource", metric, evaluate }),
      { "/config.yaml": "{}\n" },
    );
    await reachReplicas(namespace, 1);
    await eventually("the warning", () =>
      Promise.resolve(
        proc.output().includes("not allowed to patch pods; set roleRequiresPodDeletionCost: true")
          ? true
          : undefined,
      ),
    );
  });
});

describe("runtime behaviour", () => {
  const shellMethod = (script: string, timeout = 2000) =>
    JSON.stringify({ type: "shell", timeout, shell: { entrypoint: "/bin/sh", command: ["-c", script] } });

  test("per-pod mode feeds one pod per call and gets one metric per pod", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml.replace("replicas: 1", "replicas: 3"));
    await reachReplicas(namespace, 3);
    await eventually("3 pods", async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: "app=hello-kubernetes" })).items.length === 3
        ? true
        : undefined,
    );
    // The metric prints the pod's name; the evaluator counts the metrics and adds one.
    const metric = shellMethod(
      `python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["resource"]["kind"] + ":" + d["resource"]["metadata"]["name"], end="")'`,
    );
    const evaluate = shellMethod(
      `python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["metrics"]; assert all(x["value"].startswith("Pod:") for x in m); print(json.dumps({"targetReplicas": len(m)+1}))'`,
    );
    await startAutoscaler(
      t,
      namespace,
      cpaWithConfig({ interval: "500", runMode: "per-pod", metric, evaluate, maxReplicas: "4" }),
      {
        "/config.yaml": "{}\n",
      },
    );
    await reachReplicas(namespace, 4);
    const status = await eventually("the decision", async () => {
      const s = (await getCpa(namespace)).status;
      return s?.decision?.evaluation === 5 ? s : undefined;
    });
    assert.equal(status.desiredReplicas, 4, "clamped to maxReplicas");
    const limited = status.conditions?.find((c) => c.type === "ScalingLimited");
    assert.equal(`${limited?.status}/${limited?.reason}`, "True/TooManyReplicas");
  });

  test("downscale stabilisation holds a scale-down inside its window and releases it after", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    // The evaluator answers whatever this file says.
    const wanted = join(mkdtempSync(join(tmpdir(), "cpa-stab-")), "target");
    writeFileSync(wanted, "4");
    const metric = shellMethod("echo -n 0");
    const evaluate = shellMethod(`echo "{\\"targetReplicas\\": $(cat ${wanted})}"`);
    await startAutoscaler(
      t,
      namespace,
      cpaWithConfig({
        interval: "300",
        runMode: "per-resource",
        metric,
        evaluate,
        downscaleStabilization: "3",
      }),
      { "/config.yaml": "{}\n" },
    );
    await reachReplicas(namespace, 4);
    writeFileSync(wanted, "1");
    const lowered = Date.now();
    const held = await eventually("a decision held by stabilisation", async () => {
      const d = (await getCpa(namespace)).status?.decision;
      return d?.evaluation === 1 && d.desired === 4 ? d : undefined;
    });
    assert.match(held.reason ?? "", /stabili[sz]ation/);
    assert.equal(await replicas(namespace), 4, "scaled down inside the stabilisation window");
    await reachReplicas(namespace, 1, 15_000);
    assert.ok(Date.now() - lowered >= 2500, "released before the window passed");
  });

  test("a hanging script is killed at its timeout, with its children, and the next run goes ahead", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    // The first call hangs in a grandchild `sleep`, recording its pid; later calls answer.
    const marker = join(mkdtempSync(join(tmpdir(), "cpa-hang-")), "pid");
    const metric = shellMethod(
      `if [ ! -e ${marker} ]; then sleep 600 & echo $! > ${marker}; wait; fi; echo -n 2`,
      700,
    );
    const evaluate = shellMethod(`echo '{"targetReplicas": 2}'`);
    const autoscaler = await startAutoscaler(
      t,
      namespace,
      cpaWithConfig({ interval: "500", runMode: "per-resource", metric, evaluate }),
      {
        "/config.yaml": "{}\n",
      },
    );
    await reachReplicas(namespace, 2);
    assert.match(autoscaler.output(), /did not finish within 700 ms and was killed/);
    const pid = Number(readFileSync(marker, "utf8").trim());
    // Killed means gone or a zombie waiting for init to reap it (state Z).
    await eventually(
      `the hung script's child (pid ${pid}) to be killed`,
      () => {
        const stat = readFileSafe(`/proc/${pid}/stat`);
        return stat === undefined || stat.includes(" Z ") ? true : undefined;
      },
      5_000,
    );
  });
});

describe("configuration errors", () => {
  test("an invalid config exits non-zero with a message naming the key", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    const autoscaler = await startAutoscaler(t, namespace, cpaWithConfig({ interval: "0" }), seedFiles());
    const code = await autoscaler.exited;
    assert.notEqual(code, 0);
    assert.match(autoscaler.output(), /interval: must be >= 1, got 0 \(from env var interval\)/);
  });
});

describe("the REST API", () => {
  test("dry-run evaluation changes nothing; a real one scales through the same decision path", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    const port = await freePort();
    const apiConfig = JSON.stringify({ enabled: true, host: "127.0.0.1", port });
    await startAutoscaler(
      t,
      namespace,
      cpaWithConfig({ interval: "3600000", apiConfig, maxReplicas: "2" }),
      seedFiles(),
    );
    const base = `http://127.0.0.1:${port}/api/v1`;
    await eventually("the API", async () =>
      (await fetch(`${base}/metrics?dry_run=true`).catch(() => undefined))?.ok ? true : undefined,
    );

    const metrics = await (await fetch(`${base}/metrics?dry_run=true`)).json();
    assert.deepEqual(metrics, [{ resource: "hello-kubernetes", value: "3" }]);
    const dry = await fetch(`${base}/evaluation?dry_run=true`, { method: "POST" });
    assert.equal(dry.status, 200);
    assert.deepEqual(await dry.json(), { targetReplicas: 3 });
    assert.equal(await replicas(namespace), 1, "a dry run scaled the target");

    // A real run answers what it decided (clamped to maxReplicas), as the original does.
    const real = await fetch(`${base}/evaluation?dry_run=`, { method: "POST" });
    assert.deepEqual(await real.json(), { targetReplicas: 2 });
    assert.equal(await replicas(namespace), 2);

    const bad = await fetch(`${base}/evaluation?dry_run=maybe`, { method: "POST" });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), {
      message: "Invalid format for 'dry_run' query parameter; 'maybe' is not a valid boolean value",
      code: 400,
    });
    assert.equal((await fetch(`${base}/evaluation`)).status, 405);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});

describe("cpa run", () => {
  test("runs a local config once against a target and prints each stage", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, seed.deploymentYaml);
    const dir = mkdtempSync(join(tmpdir(), "cpa-run-"));
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "metric:",
        "  type: shell",
        "  shell: {entrypoint: python3, command: [metric.py]}",
        "evaluate:",
        "  type: shell",
        "  shell: {entrypoint: python3, command: [evaluate.py]}",
        "runMode: per-resource",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "metric.py"), seed.metricPy);
    writeFileSync(join(dir, "evaluate.py"), seed.evaluatePy);
    const proc = runCpa(
      cleanupOf(t),
      [
        "run",
        "--config",
        join(dir, "config.yaml"),
        "--target",
        "deployment/hello-kubernetes",
        "-n",
        namespace,
        "--once",
        "--dry-run",
      ],
      {},
      dir,
    );
    assert.equal(await proc.exited, 0, proc.output());
    assert.match(proc.output(), /── metric \(\d+ ms\)\n {3}input: {2}\{"resource":\{/);
    assert.match(proc.output(), /output: 3\n/);
    assert.match(proc.output(), /=> current 1, evaluated 3, desired 3: would scale/);
    assert.equal(await replicas(namespace), 1);
  });
});
