// The namespaced install: `kubectl apply -n OPS -f config/namespaced.yaml` puts
// the operator in a namespace of its own; a RoleBinding into each namespace it
// manages, and WATCH_NAMESPACE listing them, make it manage those and nothing
// else, with no cluster-wide rights. Tenants who may create Pods in their
// namespace cannot run one as the operator's ServiceAccount.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { adminConfig, eventually, kubectl, kubectlAs, statusOf, testNamespace } from "../support/kube.ts";
import { cleanupOf, repoFile, serviceAccountKubeconfig, startOperator } from "../support/processes.ts";

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

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

async function provisioned(namespace: string): Promise<number | undefined> {
  return core.readNamespacedPod({ name: "scaler", namespace }).then(
    () => 200,
    (err: unknown) => statusOf(err),
  );
}

test("config/namespaced.yaml: the operator in a namespace of its own manages the namespaces bound and listed, only those", async (t) => {
  const ops = await testNamespace(t);
  const teamA = await testNamespace(t);
  const teamB = await testNamespace(t);
  const elsewhere = await testNamespace(t);
  await ok(["apply", "-n", ops, "-f", repoFile("config", "namespaced.yaml")]);
  await ok(["scale", "deployment/cpa-operator", "-n", ops, "--replicas=0"]);
  // Cluster-wide it may read only the admission policy, which it checks before provisioning.
  await ok([
    "create",
    "clusterrolebinding",
    ops,
    "--clusterrole=cpa-operator-admission-policy",
    `--serviceaccount=${ops}:cpa-operator`,
  ]);
  t.after(async () => {
    await kubectl(["delete", "clusterrolebinding", ops, "--ignore-not-found"]);
  });
  for (const ns of [teamA, teamB])
    await ok([
      "create",
      "rolebinding",
      "cpa-operator",
      "-n",
      ns,
      "--clusterrole=cpa-operator",
      `--serviceaccount=${ops}:cpa-operator`,
    ]);
  const sa = `system:serviceaccount:${ops}:cpa-operator`;
  const clusterWide = await kubectl(["auth", "can-i", "list", "pods", "--all-namespaces", "--as", sa]);
  assert.equal(clusterWide.stdout.trim(), "no", "the namespaced operator must not hold cluster-wide rights");

  // As the Deployment runs it once `kubectl set env ... WATCH_NAMESPACE=team-a,team-b`.
  const operator = await startOperator(cleanupOf(t), [`--namespace=${teamA},${teamB}`], ops);
  for (const ns of [teamA, teamB, elsewhere]) {
    await ok(["apply", "-n", ns, "-f", "-"], deployment("web"));
    await ok(["apply", "-n", ns, "-f", "-"], cpa("web"));
  }
  for (const ns of [teamA, teamB]) {
    const pod = await eventually(`the autoscaler Pod in ${ns}`, async () => {
      const p = await core.readNamespacedPod({ name: "scaler", namespace: ns });
      return p.status?.phase === "Running" ? p : undefined;
    });
    assert.equal(pod.spec?.serviceAccountName, "scaler");
  }
  assert.equal(await provisioned(elsewhere), 404, "a CPA in a namespace not listed was provisioned");
  assert.ok((await operator.writes()) > 0);
});

test("a tenant who may create Pods in their namespace cannot run one as the operator's ServiceAccount", async (t) => {
  const ops = await testNamespace(t);
  const team = await testNamespace(t);
  await ok(["apply", "-n", ops, "-f", repoFile("config", "namespaced.yaml")]);
  await ok(["scale", "deployment/cpa-operator", "-n", ops, "--replicas=0"]);
  await ok(["create", "serviceaccount", "tenant", "-n", team]);
  await ok([
    "create",
    "rolebinding",
    "tenant-edit",
    "-n",
    team,
    "--clusterrole=edit",
    `--serviceaccount=${team}:tenant`,
  ]);
  const tenant = await serviceAccountKubeconfig(team, "tenant");
  await eventually("the tenant to be allowed to create Pods", async () =>
    (await kubectlAs(tenant, ["auth", "can-i", "create", "pods", "-n", team])).stdout.trim() === "yes"
      ? true
      : undefined,
  );
  const pod = (namespace: string): string => `
apiVersion: v1
kind: Pod
metadata: {name: as-operator, namespace: ${namespace}}
spec: {serviceAccountName: cpa-operator, containers: [{name: c, image: app:1}]}
`;
  // In their own namespace there is no such ServiceAccount to run as.
  const here = await kubectlAs(tenant, ["apply", "-f", "-"], pod(team));
  assert.notEqual(here.code, 0, "the Pod was created");
  assert.match(here.stderr, /serviceaccount "cpa-operator" not found/);
  // And where it lives they may create nothing.
  const there = await kubectlAs(tenant, ["apply", "-f", "-"], pod(ops));
  assert.notEqual(there.code, 0, "the Pod was created");
  assert.match(there.stderr, /forbidden/);
});
