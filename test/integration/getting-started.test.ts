// End to end: the getting-started guide, step by step, with kubectl as a user
// runs it. The operator runs as its Deployment's Pod and the autoscaler as the
// Pod the operator provisions: the local kubelet (hack/local-pods) runs both as
// real containers (podman, host network) of the images built from our
// Dockerfile and from the guide's own, with their ServiceAccounts' tokens.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { RUNTIME_IMAGE } from "../../hack/local-pods/images.ts";
import { bindNamespacedOperator, Journey } from "../../hack/journey.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { containerOf, ensureImages, podman } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { repoFile } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const example = repoFile("examples", "getting-started");
const IMAGE = "python-custom-autoscaler:latest";
/** Where docs/operator.md has a user push the image. */
const REGISTRY_IMAGE = "registry.example.com/platform/cpa";

const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
// The demo's steps (npm run demo runs the same ones).
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 60_000 });

before(async () => {
  await ensureImages();
  // The guide's own Dockerfile: FROM cpa-python:0.1.0, ADD its three files.
  await images.build(IMAGE, example);
  await kubelet.start();
});
after(async () => {
  await kubelet.stop();
});

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

async function reachReplicas(namespace: string, want: number): Promise<void> {
  await journey.reachReplicas(namespace, "hello-kubernetes", want, { scaler: "python-custom-autoscaler" });
}

async function gone(args: string[]): Promise<boolean | undefined> {
  const res = await kubectl(["get", ...args, "--ignore-not-found", "-o", "name"]);
  return res.code === 0 && res.stdout.trim() === "" ? true : undefined;
}

describe("the getting-started guide, end to end", () => {
  test("cluster install: apply, scale 1 -> 3 -> 5, re-deploy a doubling evaluator -> 10, delete everything", async (t) => {
    await journey.installOperator(["-f", repoFile("config", "cluster.yaml")], "cpa-system");

    const namespace = await testNamespace(t);
    await ok(["apply", "-n", namespace, "-f", join(example, "deployment.yaml")]);
    await ok(["apply", "-n", namespace, "-f", join(example, "cpa.yaml")]);
    await reachReplicas(namespace, 3);
    // Scaled by a real container of the guide's image, not a stand-in.
    const pod = await core.readNamespacedPod({ name: "python-custom-autoscaler", namespace });
    const container = await containerOf(pod.metadata?.uid ?? "");
    assert.ok(container, "no container runs the autoscaler Pod");
    const inspect = await podman("inspect", "--format={{.ImageName}}", container);
    // By its full name, as a node's runtime resolves `python-custom-autoscaler:latest`.
    assert.equal(inspect.stdout.trim(), `docker.io/library/${IMAGE}`);
    const table = await ok(["get", "cpa", "-n", namespace]);
    assert.match(table, /^NAME\s+REFERENCE\s+CURRENT\s+DESIRED\s+READY\s+LAST SCALE\s+AGE$/m);
    assert.match(
      table,
      /^python-custom-autoscaler\s+Deployment\/hello-kubernetes\s+3\s+3\s+True\s+\d+s\s+\d+s$/m,
    );

    await ok(["label", "deployment/hello-kubernetes", "-n", namespace, "numPods=5", "--overwrite"]);
    await reachReplicas(namespace, 5);

    // "Modify evaluate.py to double, rebuild the image, deploy the autoscaler again."
    const rebuilt = mkdtempSync(join(tmpdir(), "cpa-e2e-image-"));
    cpSync(example, rebuilt, { recursive: true });
    renameSync(join(rebuilt, "evaluate-double.py"), join(rebuilt, "evaluate.py"));
    await images.build(IMAGE, rebuilt);
    await ok(["delete", "-n", namespace, "-f", join(example, "cpa.yaml")]);
    await ok(["apply", "-n", namespace, "-f", join(example, "cpa.yaml")]);
    await reachReplicas(namespace, 10);

    await ok(["delete", "cpa", "python-custom-autoscaler", "-n", namespace]);
    for (const kind of ["pod", "serviceaccount", "role", "rolebinding"]) {
      await eventually(`the ${kind} to be garbage-collected`, () =>
        gone([kind, "python-custom-autoscaler", "-n", namespace]),
      );
    }

    await ok(["delete", "-f", repoFile("config", "cluster.yaml"), "--wait=true"]);
    await eventually(
      "the operator and the CRD to be gone",
      async () =>
        (await gone(["crd", "custompodautoscalers.custompodautoscaler.com"])) &&
        (await gone(["namespace", "cpa-system"]))
          ? true
          : undefined,
      120_000,
    );
  });

  test("namespaced install from the kustomize base, with the operator image from your registry", async (t) => {
    await images.build(IMAGE, example);
    // docs/operator.md: build, push (here: a second name in the store the local kubelet runs from), install.
    await images.tag(RUNTIME_IMAGE, `${REGISTRY_IMAGE}:0.1.0`);
    const namespace = await testNamespace(t);
    // The operator in a namespace of its own (docs/operator.md), managing the guide's.
    const ops = await testNamespace(t);
    const overlay = mkdtempSync(join(tmpdir(), "cpa-e2e-overlay-"));
    t.after(() => {
      rmSync(overlay, { recursive: true, force: true });
    });
    writeFileSync(
      join(overlay, "kustomization.yaml"),
      stringify({
        namespace: ops,
        resources: [relative(overlay, repoFile("config", "kustomize", "namespaced"))],
        images: [{ name: "cpa", newName: REGISTRY_IMAGE, newTag: "0.1.0" }],
      }),
    );
    await journey.installOperator(["-k", overlay], ops, bindNamespacedOperator(ops, namespace));
    const operator = (
      await core.listNamespacedPod({ namespace: ops, labelSelector: "app.kubernetes.io/name=cpa-operator" })
    ).items.find((p) => !p.metadata?.deletionTimestamp);
    const container = await containerOf(operator?.metadata?.uid ?? "");
    assert.ok(container, "no container runs the operator Pod");
    const inspect = await podman("inspect", "--format={{.ImageName}}", container);
    assert.equal(inspect.stdout.trim(), `${REGISTRY_IMAGE}:0.1.0`);

    await ok(["apply", "-n", namespace, "-f", join(example, "deployment.yaml")]);
    await ok(["apply", "-n", namespace, "-f", join(example, "cpa.yaml")]);
    await reachReplicas(namespace, 3);
    await ok(["delete", "-k", overlay, "--wait=true"]);
  });
});
