// The main job, as the README gives it: `npm run demo`, run as a user runs it,
// in a child process, on a control plane of its own (CPA_CLUSTER_DIR), so that
// what it leaves behind (cluster.yaml, the guide's CPA, a running operator)
// never reaches the plane the other suites share. Twice on the plane that stays
// up, then after `npm run cluster:down` with --keep-running, trying another
// example while it runs, as examples/README.md says.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { AppsV1Api, KubeConfig } from "@kubernetes/client-node";
import { LOCAL_POD_LABEL } from "../../hack/local-pods/container-runner.ts";
import { cacheDir } from "../../hack/plane/config.ts";
import { DocShell } from "../support/doc-shell.ts";
import { podman } from "../support/images.ts";
import { eventually } from "../support/kube.ts";

const clusterDir = join(cacheDir, "demo-cluster");
const env = { CPA_CLUSTER_DIR: clusterDir };
const kubeconfig = join(clusterDir, "kubeconfig");
/** A cold plane start, the image builds and the journey's own two-minute waits. */
const DEMO_TIMEOUT_MS = 8 * 60_000;

/** What the demo must show: the Deployment following its label, and the closing hints. */
function assertShowsTheJourney(output: string): void {
  assert.match(output, /Deployment hello-kubernetes: 1 → 3 replicas/, output);
  assert.match(output, /Deployment hello-kubernetes: 3 → 5 replicas/, output);
  assert.match(output, /^python-custom-autoscaler\s+Deployment\/hello-kubernetes\s+5\s+5\s+True\s/m, output);
  // Its decision as `kubectl logs` shows it, through the apiserver and the local kubelet's API.
  assert.match(output, /kubectl logs python-custom-autoscaler: .*\n {2}\{.*"evaluation"/, output);
  assert.match(output, /each Pod gets an address of its own/, output);
  for (const hint of [
    `export KUBECONFIG=${kubeconfig}`,
    "kubectl get cpa",
    "kubectl describe cpa python-custom-autoscaler",
    "kubectl get pods,serviceaccounts,roles,rolebindings",
    "kubectl logs -f python-custom-autoscaler",
    "bin/cpa run --config examples/getting-started/config.yaml --target deployment/hello-kubernetes --once --dry-run",
    "Tear down: npm run cluster:down",
  ])
    assert.ok(output.includes(hint), `the demo's closing hints lack "${hint}":\n${output}`);
}

describe("npm run demo, as the README runs it", { timeout: 4 * DEMO_TIMEOUT_MS }, () => {
  const sh = new DocShell(
    (fn) => {
      after(fn);
    },
    { namespace: "default", env },
  );
  after(async () => {
    await sh.run("npm run cluster:down");
  });

  test("from a plane of its own: 1 → 3 → 5, and again on the plane that stayed up", async () => {
    await sh.run("npm run cluster:down");
    const first = await sh.run("npm run demo");
    assertShowsTheJourney(first.stdout);
    assert.match(first.stdout, /Control plane ready in/);

    const second = await sh.run("npm run demo");
    assertShowsTheJourney(second.stdout);
    assert.match(second.stdout, /Reusing the control plane already running/);
    assert.match(second.stdout, /Removing what an earlier demo left: /);
    // The operator's Pod the first run left on the fake node came back to the local kubelet's.
    assert.match(second.stdout, /cpa-system\/cpa-operator-\S+: on kwok-node-0, where nothing runs it/);
    // Each Pod's log, in the kubelet's layout: <namespace>_<name>_<uid>/<container>/<restart>.log.
    const logs = readdirSync(join(clusterDir, "logs", "pods"));
    assert.ok(
      logs.some((d) => d.startsWith("default_python-custom-autoscaler_")),
      logs.join(", "),
    );
  });

  test("after cluster:down, with --keep-running: another example runs beside it", async (t) => {
    await sh.run("npm run cluster:down");
    assert.equal(existsSync(kubeconfig), false);
    const running = await sh.start(
      "npm run demo -- --keep-running",
      (output) => Promise.resolve(output.includes("keep running; Ctrl-C to stop them")),
      { readyTimeoutMs: DEMO_TIMEOUT_MS },
    );
    assertShowsTheJourney(running.output());

    // A second terminal, as examples/README.md has it.
    const other = DocShell.of(t, { namespace: "default", env, kubeconfig });
    await other.run('eval "$(npm run -s cluster:up)"');
    // The README's form: reuses the demo's plane too.
    await other.run("npm run cluster:up");
    await other.run("npm run image -- -t module-autoscaler:latest examples/module");
    await other.run("kubectl apply -f examples/module/web.yaml -f examples/module/cpa.yaml");
    const admin = new KubeConfig();
    admin.loadFromFile(kubeconfig);
    const apps = admin.makeApiClient(AppsV1Api);
    await eventually(
      "the module example to scale web to 3 replicas",
      async () =>
        (await apps.readNamespacedDeploymentScale({ name: "web", namespace: "default" })).spec?.replicas === 3
          ? true
          : undefined,
      120_000,
    );
    const table = await other.run("kubectl get cpa module-autoscaler");
    assert.match(table.stdout, /^module-autoscaler\s+Deployment\/web\s+3\s+3\s+True\s/m);
    // Beside the guide's autoscaler, each on port 5000 of its own address.
    const both = await other.run("kubectl get cpa");
    assert.match(both.stdout, /^python-custom-autoscaler\s+\S+\s+\d+\s+\d+\s+True\s/m);
    assert.match(both.stdout, /^module-autoscaler\s+Deployment\/web\s+3\s+3\s+True\s/m);
    const logs = await other.run("kubectl logs module-autoscaler");
    assert.match(logs.stdout, /"evaluation"/);
    // Ctrl-C: the demo stops the operator and the autoscalers before it exits.
    await running.stop("SIGINT");
    const left = await podman("ps", `--filter=label=${LOCAL_POD_LABEL}=true`, "--format={{.Names}}");
    assert.equal(left.stdout.trim(), "", "containers the demo left running");
  });
});
