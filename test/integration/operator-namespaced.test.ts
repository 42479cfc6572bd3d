// The namespaced install: `kubectl apply -n NS -f config/namespaced.yaml` in any
// namespace gives an operator that manages CustomPodAutoscalers in NS only, with
// Role-only permissions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { adminConfig, eventually, kubectl, statusOf, testNamespace } from "../support/kube.ts";
import { cleanupOf, repoFile, startOperator } from "../support/processes.ts";

const core = adminConfig().makeApiClient(CoreV1Api);

const deployment = (name: string): string => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: app, image: app:1}]}
`;

const cpa = (target: string): string => `
apiVersion: custompodautoscaler.com/v1
kind: CustomPodAutoscaler
metadata: {name: scaler}
spec:
  template: {spec: {containers: [{name: scaler, image: scaler:1}]}}
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${target}}
`;

test("config/namespaced.yaml installs an operator that manages its own namespace only", async (t) => {
  const home = await testNamespace(t);
  const elsewhere = await testNamespace(t);
  const installed = await kubectl(["apply", "-n", home, "-f", repoFile("config", "namespaced.yaml")]);
  assert.equal(installed.code, 0, installed.stderr);
  await kubectl(["scale", "deployment/cpa-operator", "-n", home, "--replicas=0"]);
  const clusterWide = await kubectl([
    "auth",
    "can-i",
    "list",
    "pods",
    "--all-namespaces",
    "--as",
    `system:serviceaccount:${home}:cpa-operator`,
  ]);
  assert.equal(clusterWide.stdout.trim(), "no", "the namespaced operator must not hold cluster-wide rights");

  const operator = await startOperator(cleanupOf(t), [`--namespace=${home}`], home);
  for (const ns of [home, elsewhere]) {
    assert.equal((await kubectl(["apply", "-n", ns, "-f", "-"], deployment("web"))).code, 0);
    assert.equal((await kubectl(["apply", "-n", ns, "-f", "-"], cpa("web"))).code, 0);
  }
  const pod = await eventually("the autoscaler Pod in the operator's namespace", async () => {
    const p = await core.readNamespacedPod({ name: "scaler", namespace: home });
    return p.status?.phase === "Running" ? p : undefined;
  });
  assert.equal(pod.spec?.serviceAccountName, "scaler");
  const other = await core.readNamespacedPod({ name: "scaler", namespace: elsewhere }).then(
    () => 200,
    (err: unknown) => statusOf(err),
  );
  assert.equal(other, 404, "a CPA outside the operator's namespace was provisioned");
  assert.ok((await operator.writes()) > 0);
});
