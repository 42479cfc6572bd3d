// Proves the test control plane is a real Kubernetes: the scheduler and kwok run
// Pods, RBAC is enforced on ServiceAccount tokens, and garbage collection works.
// Everything else in the project is tested against this plane.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1Deployment,
} from "@kubernetes/client-node";
import { adminConfig, eventually, kubectl, statusOf, testNamespace, tokenConfig } from "../support/kube.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);

function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image: "registry.example/app:1" }] },
      },
    },
  };
}

test("kubectl get nodes shows the fake node as Ready", async () => {
  const res = await kubectl(["get", "nodes"]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^\S+\s+Ready\s/m);
});

test("a Deployment scaled to 3 through its /scale subresource gets 3 Running pods", async (t) => {
  const namespace = await testNamespace(t);
  await apps.createNamespacedDeployment({ namespace, body: deployment("web", 1) });

  const scale = await apps.patchNamespacedDeploymentScale(
    { name: "web", namespace, body: [{ op: "replace", path: "/spec/replicas", value: 3 }] },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
  assert.equal(scale.spec?.replicas, 3);

  const running = await eventually("3 Running pods", async () => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: "app=web" });
    const names = pods.items.filter((p) => p.status?.phase === "Running").map((p) => p.metadata?.name);
    return names.length === 3 ? names : undefined;
  });
  assert.equal(running.length, 3);
  const read = await apps.readNamespacedDeploymentScale({ name: "web", namespace });
  assert.equal(read.status?.replicas, 3);
  assert.equal(read.status.selector, "app=web");
});

test("a TokenRequest token is allowed exactly what its Role grants", async (t) => {
  const namespace = await testNamespace(t);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "reader" } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: "reader" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
    },
  });
  const request = await core.createNamespacedServiceAccountToken({
    name: "reader",
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = request.status?.token;
  assert.ok(token, "TokenRequest returned no token");
  const asReader = tokenConfig(admin, token).makeApiClient(CoreV1Api);

  // RBAC caches refresh asynchronously: wait for the grant, then check the denials.
  const listed = await eventually("the Role to take effect", () =>
    asReader.listNamespacedConfigMap({ namespace }),
  );
  assert.ok(Array.isArray(listed.items));

  const denied = async (what: string, call: () => Promise<unknown>): Promise<void> => {
    const status = await call().then(
      () => 200,
      (err: unknown) => statusOf(err),
    );
    assert.equal(status, 403, `${what} should be forbidden`);
  };
  await denied("listing secrets", () => asReader.listNamespacedSecret({ namespace }));
  await denied("creating a configmap", () =>
    asReader.createNamespacedConfigMap({ namespace, body: { metadata: { name: "x" } } }),
  );
  await denied("listing configmaps in another namespace", () =>
    asReader.listNamespacedConfigMap({ namespace: "default" }),
  );
});

test("deleting an owner garbage-collects its dependents", async (t) => {
  const namespace = await testNamespace(t);
  const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "owner" } } });
  const uid = owner.metadata?.uid;
  assert.ok(uid);
  await core.createNamespacedConfigMap({
    namespace,
    body: {
      metadata: {
        name: "dependent",
        ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid, controller: true }],
      },
    },
  });
  await core.deleteNamespacedConfigMap({ name: "owner", namespace });
  const gone = await eventually("the dependent to be garbage-collected", async () => {
    const status = await core.readNamespacedConfigMap({ name: "dependent", namespace }).then(
      () => 200,
      (err: unknown) => statusOf(err),
    );
    return status === 404 ? true : undefined;
  });
  assert.equal(gone, true);
});
