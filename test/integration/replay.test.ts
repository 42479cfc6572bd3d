// docs/replay.md as a reader runs it, on the real plane with the operator from
// config/cluster.yaml and the autoscalers as real containers: the guide's
// autoscaler records its runs, `cpa record` reads them as a user with only
// `view` and `cpa-view`, `cpa replay` replays them (exactly, with the logic that
// recorded them; differently, with the new), draws the page's chart, and the
// new logic runs as a shadow that never writes /scale until it is cut over.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { Journey } from "../../hack/journey.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { auditLogPath } from "../../hack/plane/config.ts";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import type { RunRecord } from "../../src/autoscaler/recorder/record.ts";
import { DocShell, wordsIn } from "../support/doc-shell.ts";
import { ensureImages } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { repoFile, serviceAccountKubeconfig } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 120_000 });
const LIVE = "python-custom-autoscaler";
const NEXT = "python-custom-autoscaler-next";
const DOC = "docs/replay.md";
const tmp = mkdtempSync(join(tmpdir(), "cpa-replay-doc-"));
const files = {
  "trace.jsonl": join(tmp, "trace.jsonl"),
  "shadow.jsonl": join(tmp, "shadow.jsonl"),
  "replay.png": join(tmp, "replay.png"),
};

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

before(async () => {
  await ensureImages();
  await images.build(`${LIVE}:latest`, repoFile("examples", "getting-started"));
  await images.build(`${NEXT}:latest`, repoFile("examples", "replay"));
  await kubelet.start();
  await journey.installOperator(["-f", repoFile("config", "cluster.yaml")], "cpa-system");
});
after(async () => {
  await kubelet.stop();
});

/** A user bound to exactly these ClusterRoles in the namespace; resolves once the authorizer agrees. */
async function userBoundTo(namespace: string, name: string, roles: string[]): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  for (const role of roles)
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${name}-${role}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects: [{ kind: "ServiceAccount", name, namespace }],
      },
    });
  const kubeconfig = await serviceAccountKubeconfig(namespace, name);
  await eventually(`${name} to be allowed to get custompodautoscalers`, async () => {
    const res = await kubectl([
      `--kubeconfig=${kubeconfig}`,
      "auth",
      "can-i",
      "get",
      "custompodautoscalers.custompodautoscaler.com",
      "-n",
      namespace,
    ]);
    return res.stdout.trim() === "yes" ? true : undefined;
  });
  return kubeconfig;
}

const getCpa = async (namespace: string, name: string): Promise<CustomPodAutoscaler> =>
  (await custom.getNamespacedCustomObject({
    group: "custompodautoscaler.com",
    version: "v1",
    namespace,
    plural: "custompodautoscalers",
    name,
  })) as CustomPodAutoscaler;

/** Every autoscaler of these tests runs each second, so a minute of load takes seconds. */
async function everySecond(namespace: string, name: string): Promise<void> {
  await ok([
    "patch",
    "cpa",
    name,
    "-n",
    namespace,
    "--type=json",
    "-p",
    '[{"op":"replace","path":"/spec/config/0","value":{"name":"interval","value":"1000"}}]',
  ]);
}

async function replicasBecome(namespace: string, want: number, scaler: string): Promise<void> {
  await journey.reachReplicas(namespace, "hello-kubernetes", want, { scaler });
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function records(file: string): RunRecord[] {
  return readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as RunRecord);
}

/** bin/cpa outside the docs (a check of our own, not a reader's command). */
function cpa(args: string[], kubeconfig?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      repoFile("bin", "cpa"),
      args,
      { cwd: repoFile(), env: { ...process.env, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr });
      },
    );
  });
}

/** The lines of the console block whose `$ ` line is `command`, in the page. */
function consoleLines(command: string): string[] {
  const page = readFileSync(repoFile(DOC), "utf8").split("\n");
  const start = page.indexOf(`$ ${command}`);
  assert.ok(start >= 0, `${DOC} has no console block for ${command}`);
  const end = page.indexOf("```", start);
  return page.slice(start + 1, end);
}

/** Each line's words, numbers and times as placeholders: the output has the page's shape. */
const shape = (line: string): string =>
  line
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "TIME")
    .replace(/\b(default|t-[\w-]+)\b/g, "NS")
    .replace(/\d+(\.\d+)?/g, "N");

describe(DOC, () => {
  test("record, replay, chart, shadow, cut over", async (t) => {
    const namespace = await testNamespace(t);
    const sh = DocShell.of(t, { namespace });
    const sub = (command: string) => ({ substitute: wordsIn(command, files) });

    // 1. Record: the guide's autoscaler, and the load changing.
    await sh.run("kubectl apply -f examples/getting-started/deployment.yaml");
    await sh.run("kubectl apply -f examples/getting-started/cpa.yaml");
    await everySecond(namespace, LIVE);
    await journey.cpaReady(namespace, LIVE);
    await replicasBecome(namespace, 3, LIVE);
    await settle(3000);
    await sh.run("kubectl label deployment hello-kubernetes numPods=5 --overwrite");
    await replicasBecome(namespace, 5, LIVE);
    await settle(4000);
    await sh.run("kubectl label deployment hello-kubernetes numPods=2 --overwrite");
    await replicasBecome(namespace, 2, LIVE);
    await settle(4000);

    const viewer = await userBoundTo(namespace, "viewer", ["view", "cpa-view"]);
    const asViewer = DocShell.of(t, { namespace, kubeconfig: viewer });
    const record = "cpa record python-custom-autoscaler --since 1h --out trace.jsonl";
    const recorded = await asViewer.run(record, sub(record));
    assert.match(
      recorded.stderr,
      /^Recorded \d+ runs of python-custom-autoscaler from .* from the log of python-custom-autoscaler/m,
    );
    const trace = records(files["trace.jsonl"]);
    assert.ok(trace.length >= 8, `${trace.length} records`);
    const values = new Set(trace.map((r) => r.metrics?.[0]?.value));
    for (const v of ["5", "2"]) assert.ok(values.has(v), `a run saw numPods ${v}`);
    assert.ok(trace.every((r) => r.target.name === "hello-kubernetes" && r.target.namespace === namespace));
    assert.ok(trace.some((r) => r.scaled && r.decision?.replicas === 5));

    // Without pods/log (cpa-view alone), the user is told which right is missing.
    const outsider = await userBoundTo(namespace, "outsider", ["cpa-view"]);
    const refused = await cpa(["record", LIVE, "-n", namespace], outsider);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /you may not (list Pods|read the log).*view role grants it/);

    // 2. Replay: the logic that recorded the runs decides exactly as recorded.
    const same = await cpa([
      "replay",
      "--config",
      "examples/getting-started/config.yaml",
      "--root",
      "examples/getting-started",
      "--trace",
      files["trace.jsonl"],
    ]);
    assert.equal(same.code, 0, same.err);
    assert.match(same.out, /Every run decided as recorded\./);

    // The new logic: the page's summary, in the page's shape.
    const command =
      "cpa replay --config examples/replay/config.yaml --root examples/replay --trace trace.jsonl";
    const replayed = await sh.run(command, sub(command));
    assert.match(replayed.stdout, /\d+ of \d+ runs \([\d.]+%\) decided differently/);
    const summary = replayed.stdout.split("\n").slice(0, consoleLines(command).length);
    assert.deepEqual(summary.map(shape), consoleLines(command).map(shape));
    process.stderr.write(`[replay] ${DOC}'s summary, from this run:\n${replayed.stdout}\n`);

    await sh.run(`${command} --out replay.png`, sub(`${command} --out replay.png`));
    const png = readFileSync(files["replay.png"]);
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    // CPA_UPDATE_DOCS=1 puts this run's chart on the page; otherwise the page's must be one too.
    const pageImage = repoFile("docs", "images", "replay.png");
    if (process.env["CPA_UPDATE_DOCS"] === "1") {
      mkdirSync(repoFile("docs", "images"), { recursive: true });
      copyFileSync(files["replay.png"], pageImage);
    }
    assert.ok(existsSync(pageImage), `${pageImage} is missing: run this test with CPA_UPDATE_DOCS=1`);
    assert.equal(readFileSync(pageImage).subarray(1, 4).toString("latin1"), "PNG");

    // 3. Shadow: the new logic beside the live one (its image built above, as `docker build` would).
    await sh.run("cd examples/replay");
    await sh.run("kubectl apply -f cpa-shadow.yaml");
    await everySecond(namespace, NEXT);
    await journey.cpaReady(namespace, NEXT);
    await ok(["label", "deployment", "hello-kubernetes", "numPods=4", "--overwrite", "-n", namespace]);
    await replicasBecome(namespace, 4, LIVE);
    const status = await eventually("the shadow to say it would set 5", async () => {
      const s = (await getCpa(namespace, NEXT)).status;
      return s?.desiredReplicas === 5 && s.currentReplicas === 4 ? s : undefined;
    });
    assert.deepEqual(status.shadow, { divergence: 1 });
    assert.equal(status.conditions?.find((c) => c.type === "AbleToScale")?.reason, "ShadowMode");
    const table = await sh.run("kubectl get cpa -o wide");
    assert.match(table.stdout, /SHADOW/);
    assert.match(table.stdout, new RegExp(`^${NEXT}\\s.*\\btrue\\b`, "m"));
    await eventually("a ShadowRescale event", async () => {
      const events = await core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.name=${NEXT},reason=ShadowRescale`,
      });
      return events.items.some((e) => e.message?.startsWith("Would set the target to 5 replicas (it has 4)"))
        ? true
        : undefined;
    });
    const described = await sh.run("kubectl describe cpa python-custom-autoscaler-next");
    assert.match(described.stdout, /ShadowRescale/);
    // Its metric, from its REST API on the Pod network.
    const pod = await core.readNamespacedPod({ namespace, name: NEXT });
    if (kubelet.sharedNetwork === undefined && pod.status?.podIP) {
      const metrics = await (await fetch(`http://${pod.status.podIP}:5000/metrics`)).text();
      assert.match(metrics, /^cpa_shadow_divergence_replicas 1$/m);
    }
    await asViewer.run(
      "cpa record python-custom-autoscaler-next --since 1h --out shadow.jsonl",
      sub("cpa record python-custom-autoscaler-next --since 1h --out shadow.jsonl"),
    );
    const shadowRuns = records(files["shadow.jsonl"]);
    assert.ok(shadowRuns.length > 0 && shadowRuns.every((r) => r.shadow === true && !r.scaled));
    // The shadow's Role reads /scale only; the apiserver saw no /scale write from it, ever.
    const role = await rbac.readNamespacedRole({ namespace, name: NEXT });
    assert.deepEqual(role.rules?.find((r) => r.resources?.includes("deployments/scale"))?.verbs, ["get"]);
    assert.deepEqual(scaleWrites(namespace, NEXT), [], "no /scale write by the shadow");

    // 4. Cut over: the shadow becomes the live autoscaler and scales to its own decision.
    await sh.run("kubectl delete cpa python-custom-autoscaler");
    await sh.run("kubectl annotate cpa python-custom-autoscaler-next custompodautoscaler.com/shadow-");
    await eventually("the Role to grant the /scale write", async () => {
      const r = await rbac.readNamespacedRole({ namespace, name: NEXT });
      const verbs = r.rules?.find((x) => x.resources?.includes("deployments/scale"))?.verbs ?? [];
      return verbs.includes("update") ? true : undefined;
    });
    await replicasBecome(namespace, 5, NEXT);
    // The live Pod's status write may land after its /scale write, and the shadow Pod, still
    // stopping, may write once more: the shadow status goes, it need not be gone already.
    await eventually("no shadow status once live", async () =>
      (await getCpa(namespace, NEXT)).status?.shadow === undefined ? true : undefined,
    );
    assert.ok(scaleWrites(namespace, NEXT).length > 0, "the audit log sees its writes now");
  });
});

/** The /scale writes (update, patch) the ServiceAccount `name` in `namespace` sent, from the audit log. */
function scaleWrites(namespace: string, name: string): string[] {
  const user = `system:serviceaccount:${namespace}:${name}`;
  return readFileSync(auditLogPath, "utf8")
    .split("\n")
    .filter((l) => l.includes(user) && l.includes('"subresource":"scale"'))
    .map(
      (l) =>
        JSON.parse(l) as { verb: string; user: { username: string }; objectRef?: { subresource?: string } },
    )
    .filter((e) => e.user.username === user && ["update", "patch"].includes(e.verb))
    .map((e) => e.verb);
}
