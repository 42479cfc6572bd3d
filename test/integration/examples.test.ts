// The examples are what users copy: each one runs here against the real
// control plane with `cpa run --once`, from its own folder, as the
// writing-an-autoscaler guide shows.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test, type TestContext } from "node:test";
import { AppsV1Api } from "@kubernetes/client-node";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { cleanupOf, repoFile, runCpa } from "../support/processes.ts";
import { seedGuide, seedGuideFromSeeds, seedsAvailable } from "../support/seed-guide.ts";

const apps = adminConfig().makeApiClient(AppsV1Api);

describe("examples/getting-started", () => {
  test(
    "holds the seed guide's files unchanged",
    { skip: seedsAvailable() ? false : "the seed guide (../shared/seeds) is not beside this checkout" },
    () => {
      assert.deepEqual(seedGuide(), seedGuideFromSeeds());
    },
  );
});

function web(
  replicas: number,
  annotations: Record<string, string>,
  podAnnotations: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", annotations },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" }, annotations: podAnnotations },
        spec: { containers: [{ name: "web", image: "example/web:1" }] },
      },
    },
  });
}

async function deploy(t: TestContext, manifest: string, pods: number): Promise<string> {
  const namespace = await testNamespace(t);
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], manifest);
  assert.equal(res.code, 0, res.stderr);
  await eventually(`${pods} web pods`, async () => {
    const out = await kubectl(["get", "pods", "-n", namespace, "-l", "app=web", "-o", "name"]);
    return out.stdout.trim().split("\n").filter(Boolean).length === pods ? true : undefined;
  });
  return namespace;
}

/** `cpa run --once` in the example's folder; returns its output after it exits 0. */
async function runOnce(
  t: TestContext,
  example: string,
  namespace: string,
  env: Record<string, string> = {},
): Promise<string> {
  const proc = runCpa(
    cleanupOf(t),
    ["run", "--config", "config.yaml", "--target", "deployment/web", "--namespace", namespace, "--once"],
    env,
    repoFile("examples", example),
  );
  const code = await proc.exited;
  assert.equal(code, 0, proc.output());
  return proc.output();
}

async function replicas(namespace: string): Promise<number | undefined> {
  return (await apps.readNamespacedDeploymentScale({ name: "web", namespace })).spec?.replicas;
}

describe("examples", () => {
  test("per-pod: one metric per pod, summed against TARGET_LOAD", async (t) => {
    const namespace = await deploy(t, web(2, {}, { "example.com/load": "75" }), 2);
    const out = await runOnce(t, "per-pod", namespace, { TARGET_LOAD: "50" });
    assert.equal((out.match(/── metric /g) ?? []).length, 2, out);
    assert.match(out, /current 2, evaluated 3, desired 3: scaled/);
    assert.equal(await replicas(namespace), 3);
  });

  test("module: typed TypeScript stages run in process", async (t) => {
    const namespace = await deploy(t, web(1, { "example.com/queue-length": "12" }), 1);
    const out = await runOnce(t, "module", namespace);
    assert.match(out, /current 1, evaluated 3, desired 3: scaled/);
    assert.equal(await replicas(namespace), 3);
  });

  test("http: both stages answered by a small service", async (t) => {
    const server = spawn("python3", [repoFile("examples", "http", "server.py")], { stdio: "ignore" });
    t.after(() => server.kill());
    await eventually("the example service on :8000", async () => {
      const res = await fetch("http://127.0.0.1:8000/nothing", { method: "POST", body: "{}" }).catch(
        () => undefined,
      );
      return res ? true : undefined;
    });
    const namespace = await deploy(t, web(1, { "example.com/rps": "250" }), 1);
    const out = await runOnce(t, "http", namespace);
    assert.match(out, /current 1, evaluated 3, desired 3: scaled/);
    assert.equal(await replicas(namespace), 3);
  });
});
