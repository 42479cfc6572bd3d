// What the original's examples do that no other test does, on fixtures we
// write (`npm run compat` runs the examples themselves, given a checkout of
// the original; CI has none): a Rollout target through its /scale subresource
// with roleRequiresArgoRollouts (argo-rollouts), scaling to zero and back
// (zero-scaler), and the HTTP metric pointed elsewhere by a `metric` entry in
// spec.config, the env override the original documents (http-request). The
// autoscaler is the getting-started guide's image: its metric is the target's
// numPods label, its evaluation that number.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { ROLLOUT_CRD, startNumberServer, type NumberServer } from "../../hack/compat/run.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { Journey } from "../../hack/journey.ts";
import { ensureImages } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { repoFile } from "../support/processes.ts";

const admin = adminConfig();
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 90_000 });
const IMAGE = "corpus-fixture:test";
let server: NumberServer;

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

before(async () => {
  await ensureImages();
  await images.build(IMAGE, repoFile("examples", "getting-started"));
  await kubelet.start();
  server = await startNumberServer(kubelet.nodeIP);
  await ok(["apply", "-f", "-"], stringify(ROLLOUT_CRD));
  await ok(["wait", "--for=condition=Established", "crd/rollouts.argoproj.io"]);
});
after(async () => {
  await server.close();
  await kubelet.stop();
  await kubectl(["delete", "crd", "rollouts.argoproj.io", "--ignore-not-found"]);
});

const cpa = (
  name: string,
  target: { apiVersion: string; kind: string; name: string },
  spec: object = {},
  config: Record<string, string> = {},
): object => ({
  apiVersion: "custompodautoscaler.com/v1",
  kind: "CustomPodAutoscaler",
  metadata: { name },
  spec: {
    template: { spec: { containers: [{ name, image: IMAGE, imagePullPolicy: "IfNotPresent" }] } },
    scaleTargetRef: target,
    ...spec,
    config: Object.entries({ interval: "1000", ...config }).map(([n, value]) => ({ name: n, value })),
  },
});

const deployment = (name: string, replicas: number, numPods?: string): object => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, ...(numPods === undefined ? {} : { labels: { numPods } }) },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
    },
  },
});

const replicas = async (namespace: string, what: string): Promise<number> =>
  Number((await ok(["get", "-n", namespace, what, "-o", "jsonpath={.spec.replicas}"])).trim() || "0");

const reach = (namespace: string, what: string, want: number): Promise<true> =>
  eventually(
    `${what} at ${want} replicas`,
    async () => ((await replicas(namespace, what)) === want ? true : undefined),
    90_000,
    500,
  );

describe("the original examples' behaviours", () => {
  test("a Rollout (argo-rollouts), zero and back (zero-scaler), an HTTP metric moved by spec.config (http-request)", async (t) => {
    await journey.installOperator(["-f", repoFile("config", "cluster.yaml")], "cpa-system");
    const namespace = await testNamespace(t);
    const rollout = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Rollout",
      metadata: { name: "rollouts-demo", labels: { numPods: "5" } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "rollouts-demo" } },
        template: {
          metadata: { labels: { app: "rollouts-demo" } },
          spec: { containers: [{ name: "demo", image: "registry.k8s.io/pause:3.10" }] },
        },
      },
    };
    server.value = 4;
    const metric = {
      type: "http",
      timeout: 2500,
      http: { method: "GET", url: server.url, successCodes: [200], parameterMode: "query" },
    };
    const objects = [
      rollout,
      cpa(
        "rollout-scaler",
        { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: "rollouts-demo" },
        { roleRequiresArgoRollouts: true },
      ),
      deployment("zero-web", 3, "0"),
      cpa(
        "zero-scaler",
        { apiVersion: "apps/v1", kind: "Deployment", name: "zero-web" },
        {},
        { minReplicas: "0" },
      ),
      deployment("http-web", 1),
      cpa(
        "http-scaler",
        { apiVersion: "apps/v1", kind: "Deployment", name: "http-web" },
        {},
        { minReplicas: "0", metric: JSON.stringify(metric) },
      ),
    ];
    await ok(["apply", "-n", namespace, "-f", "-"], objects.map((o) => stringify(o)).join("---\n"));
    for (const name of ["rollout-scaler", "zero-scaler", "http-scaler"])
      await journey.cpaReady(namespace, name);

    // The Role the operator provisions lets the autoscaler read and scale Rollouts, and only with the flag.
    const rules = JSON.parse(
      await ok(["get", "role", "-n", namespace, "rollout-scaler", "-o", "jsonpath={.rules}"]),
    ) as {
      apiGroups?: string[];
      resources?: string[];
      resourceNames?: string[];
      verbs?: string[];
    }[];
    assert.ok(
      rules.some(
        (r) => r.apiGroups?.includes("argoproj.io") && !r.resourceNames && r.verbs?.includes("list"),
      ),
      JSON.stringify(rules),
    );
    const zeroRules = await ok(["get", "role", "-n", namespace, "zero-scaler", "-o", "jsonpath={.rules}"]);
    assert.doesNotMatch(zeroRules, /argoproj\.io/);

    await reach(namespace, "rollout/rollouts-demo", 5);
    await ok(["label", "-n", namespace, "rollout/rollouts-demo", "numPods=3", "--overwrite"]);
    await reach(namespace, "rollout/rollouts-demo", 3);

    await reach(namespace, "deployment/zero-web", 0);
    await ok(["label", "-n", namespace, "deployment/zero-web", "numPods=2", "--overwrite"]);
    await reach(namespace, "deployment/zero-web", 2);

    await reach(namespace, "deployment/http-web", 4);
    server.value = 0;
    await reach(namespace, "deployment/http-web", 0);
    server.value = 2;
    await reach(namespace, "deployment/http-web", 2);
    // parameterMode: query sends the stage's input, as the original does, beside the URL's own query.
    const query = server.queries.find((q) => q.has("value"));
    assert.ok(query, "a request carried the value query parameter");
    assert.equal(query.get("num"), "1");
    const sent = JSON.parse(query.get("value") ?? "{}") as {
      resource?: { metadata?: { name?: string } };
      runType?: string;
    };
    assert.equal(sent.resource?.metadata?.name, "http-web");
    assert.equal(sent.runType, "scaler");
  });
});
