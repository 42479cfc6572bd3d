// The operator on the real control plane, installed with config/cluster.yaml and
// running as a process with exactly the cpa-operator ServiceAccount's rights.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test, type TestContext } from "node:test";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type V1Pod,
} from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import { adminConfig, eventually, kubectl, statusOf, testNamespace } from "../support/kube.ts";
import { installBundleWithoutItsOperator } from "../support/fixtures.ts";
import { cleanupOf, startOperator, type Operator } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);

const SEED_DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-kubernetes
  labels:
    numPods: "3"
spec:
  replicas: 1
  selector:
    matchLabels:
      app: hello-kubernetes
  template:
    metadata:
      labels:
        app: hello-kubernetes
    spec:
      containers:
      - name: hello-kubernetes
        image: paulbouwer/hello-kubernetes:1.5
        ports:
        - containerPort: 8080
`;

/** The seed guide's cpa.yaml, unchanged. */
const SEED_CPA = `
apiVersion: custompodautoscaler.com/v1
kind: CustomPodAutoscaler
metadata:
  name: python-custom-autoscaler
spec:
  template:
    spec:
      containers:
      - name: python-custom-autoscaler
        image: python-custom-autoscaler:latest
        imagePullPolicy: IfNotPresent
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: hello-kubernetes
  config:
    - name: interval
      value: "10000"
`;

const NAME = "python-custom-autoscaler";

async function apply(namespace: string, manifest: string): Promise<void> {
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], manifest);
  assert.equal(res.code, 0, res.stderr);
}

async function getCpa(namespace: string, name = NAME): Promise<CustomPodAutoscaler> {
  return (await custom.getNamespacedCustomObject({
    group: "custompodautoscaler.com",
    version: "v1",
    namespace,
    plural: "custompodautoscalers",
    name,
  })) as CustomPodAutoscaler;
}

async function readyPod(namespace: string, name = NAME): Promise<V1Pod> {
  return eventually(`Pod ${name} to be Running`, async () => {
    const pod = await core.readNamespacedPod({ name, namespace });
    return pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp ? pod : undefined;
  });
}

async function readyCondition(namespace: string, name = NAME) {
  const cpa = await getCpa(namespace, name);
  return cpa.status?.conditions?.find((c) => c.type === "Ready");
}

/** A namespace with the seed guide's Deployment and CPA applied, provisioned and running. */
async function seededNamespace(t: TestContext): Promise<{ namespace: string; pod: V1Pod }> {
  const namespace = await testNamespace(t);
  await apply(namespace, SEED_DEPLOYMENT);
  await apply(namespace, SEED_CPA);
  const pod = await readyPod(namespace);
  await eventually("the CPA to be Ready", async () =>
    (await readyCondition(namespace))?.status === "True" ? true : undefined,
  );
  return { namespace, pod };
}

/**
 * Waits until earlier tests' namespaces are gone (their teardown legitimately
 * makes the operator report Pods going away) and the operator has been idle
 * for a while; returns its write count.
 */
async function settledWrites(operator: Operator): Promise<number> {
  await eventually(
    "earlier test namespaces to be deleted",
    async () => {
      const list = await core.listNamespace({ labelSelector: "cpa-test=true" });
      return list.items.some((n) => n.status?.phase === "Terminating") ? undefined : true;
    },
    120_000,
  );
  let last = await operator.writes();
  for (;;) {
    await new Promise((r) => setTimeout(r, 1500));
    const now = await operator.writes();
    if (now === last) return now;
    last = now;
  }
}

/** Creates the operator sent that the apiserver answered 409 AlreadyExists (or Conflict), from its /metrics. */
async function createConflicts(op: Operator): Promise<number> {
  const text = await (await fetch(op.metricsUrl)).text();
  const m = /^cpa_kube_requests_total\{(?=[^}]*method="POST")(?=[^}]*code="409")[^}]*\} (\d+)$/m.exec(text);
  return Number(m?.[1] ?? 0);
}

let operator: Operator;
// Processes started outside a test (in before()) are stopped when the whole file is done.
const cleanups: (() => Promise<void>)[] = [];
const atEnd = (fn: () => Promise<void>): void => {
  cleanups.push(fn);
};
after(async () => {
  for (const fn of cleanups) await fn();
});

before(async () => {
  await installBundleWithoutItsOperator();
  operator = await startOperator(atEnd, ["--resync=2s"]);
});

describe("provisioning the seed guide's CustomPodAutoscaler", () => {
  test("creates the ServiceAccount, Role, RoleBinding and Pod, labelled and owned by the CPA", async (t) => {
    const { namespace, pod } = await seededNamespace(t);
    const cpa = await getCpa(namespace);
    const owner = { kind: "CustomPodAutoscaler", name: NAME, uid: cpa.metadata.uid, controller: true };
    const objects = [
      await core.readNamespacedServiceAccount({ name: NAME, namespace }),
      await rbac.readNamespacedRole({ name: NAME, namespace }),
      await rbac.readNamespacedRoleBinding({ name: NAME, namespace }),
      pod,
    ];
    for (const obj of objects) {
      assert.equal(obj.metadata?.labels?.["app.kubernetes.io/managed-by"], "custom-pod-autoscaler-operator");
      assert.equal(obj.metadata.labels["v1.custompodautoscaler.com/owned-by"], NAME);
      const ref = obj.metadata.ownerReferences?.[0];
      assert.deepEqual(
        { kind: ref?.kind, name: ref?.name, uid: ref?.uid, controller: ref?.controller },
        owner,
      );
    }
    assert.equal(pod.spec?.serviceAccountName, NAME);
    assert.deepEqual(
      pod.spec.containers[0]?.env?.map((e) => [e.name, e.value]),
      [
        ["scaleTargetRef", '{"kind":"Deployment","name":"hello-kubernetes","apiVersion":"apps/v1"}'],
        ["namespace", namespace],
        ["interval", "10000"],
        ["CPA_NAME", NAME],
      ],
    );
  });

  test("kubectl get cpa shows the target, readiness and the Pod", async (t) => {
    const { namespace } = await seededNamespace(t);
    const res = await kubectl(["get", "cpa", "-n", namespace, "-o", "wide"]);
    assert.equal(res.code, 0, res.stderr);
    const [header, row] = res.stdout.trim().split("\n");
    assert.match(
      header ?? "",
      /^NAME\s+REFERENCE\s+CURRENT\s+DESIRED\s+READY\s+REASON\s+POD\s+LAST SCALE\s+AGE/,
    );
    assert.match(
      row ?? "",
      new RegExp(`^${NAME}\\s+Deployment/hello-kubernetes\\s+True\\s+AutoscalerRunning\\s+${NAME}\\s`),
    );
  });

  test("CPAs applied at once: no object is created twice while the operator's cache catches up (no create answered 409)", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, SEED_DEPLOYMENT);
    const before = await createConflicts(operator);
    const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    const manifests = names.map((n) =>
      SEED_CPA.replace(`metadata:\n  name: ${NAME}`, `metadata:\n  name: ${n}`),
    );
    await apply(namespace, manifests.join("\n---\n"));
    for (const n of names) await readyPod(namespace, n);
    // Its own creates reach its caches through the watch, moments later: reconciles in between must not create again.
    assert.equal((await createConflicts(operator)) - before, 0);
  });

  test("the Role grants the autoscaler its target and /scale, and nothing else of the namespace", async (t) => {
    const { namespace } = await seededNamespace(t);
    const as = `system:serviceaccount:${namespace}:${NAME}`;
    const can = async (...args: string[]) =>
      (await kubectl(["auth", "can-i", ...args, "-n", namespace, "--as", as])).stdout.trim();
    assert.equal(await can("get", "deployments/hello-kubernetes"), "yes");
    assert.equal(await can("patch", "deployments/hello-kubernetes", "--subresource=scale"), "yes");
    assert.equal(await can("list", "pods"), "yes");
    assert.equal(
      await can("patch", "custompodautoscalers/python-custom-autoscaler", "--subresource=status"),
      "yes",
    );
    assert.equal(await can("get", "deployments/other"), "no");
    assert.equal(await can("get", "secrets"), "no");
    assert.equal(await can("delete", "pods"), "no");
  });
});

describe("keeping things in sync", () => {
  test("an unchanged CPA costs zero writes across resyncs", async (t) => {
    await seededNamespace(t);
    const before = await settledWrites(operator);
    // The operator runs with --resync=2s: wait for several resyncs of every CPA.
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(await operator.writes(), before);
  });

  test("editing spec.config replaces the Pod exactly once, with the new env", async (t) => {
    const { namespace, pod } = await seededNamespace(t);
    await apply(namespace, SEED_CPA.replace('value: "10000"', 'value: "5000"'));
    const replaced = await eventually("a new Pod", async () => {
      const p = await readyPod(namespace);
      return p.metadata?.uid !== pod.metadata?.uid ? p : undefined;
    });
    assert.deepEqual(replaced.spec?.containers[0]?.env?.find((e) => e.name === "interval")?.value, "5000");
    await settledWrites(operator);
    const after = await core.readNamespacedPod({ name: NAME, namespace });
    assert.equal(after.metadata?.uid, replaced.metadata?.uid, "the Pod was replaced more than once");
  });

  test("turning on roleRequiresMetricsServer updates the Role in place", async (t) => {
    const { namespace, pod } = await seededNamespace(t);
    await apply(namespace, SEED_CPA.replace("  config:", "  roleRequiresMetricsServer: true\n  config:"));
    await eventually("the Role to grant metrics", async () => {
      const role = await rbac.readNamespacedRole({ name: NAME, namespace });
      return role.rules?.some((r) => r.apiGroups?.includes("metrics.k8s.io")) ? true : undefined;
    });
    const samePod = await core.readNamespacedPod({ name: NAME, namespace });
    assert.equal(samePod.metadata?.uid, pod.metadata?.uid, "a Role change must not restart the autoscaler");
  });

  test("a deleted Pod is recreated", async (t) => {
    const { namespace, pod } = await seededNamespace(t);
    await core.deleteNamespacedPod({ name: NAME, namespace });
    const recreated = await eventually("the Pod to be recreated", async () => {
      const p = await readyPod(namespace);
      return p.metadata?.uid !== pod.metadata?.uid ? p : undefined;
    });
    assert.equal(recreated.spec?.serviceAccountName, NAME);
  });

  test("an operator restart replaces nothing and writes nothing", async (t) => {
    const { namespace, pod } = await seededNamespace(t);
    await settledWrites(operator);
    await operator.stop();
    operator = await startOperator(atEnd, ["--resync=2s"]);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await operator.writes(), 0);
    const same = await core.readNamespacedPod({ name: NAME, namespace });
    assert.equal(same.metadata?.uid, pod.metadata?.uid);
  });
});

describe("ownership and lifecycle", () => {
  test("kubectl delete cpa removes the Pod, ServiceAccount, Role and RoleBinding", async (t) => {
    const { namespace } = await seededNamespace(t);
    const res = await kubectl(["delete", "cpa", NAME, "-n", namespace]);
    assert.equal(res.code, 0, res.stderr);
    const gone = async (read: () => Promise<unknown>) =>
      (await read().then(
        () => 200,
        (err: unknown) => statusOf(err),
      )) === 404
        ? true
        : undefined;
    await eventually("the Pod to go", () => gone(() => core.readNamespacedPod({ name: NAME, namespace })));
    await eventually("the ServiceAccount to go", () =>
      gone(() => core.readNamespacedServiceAccount({ name: NAME, namespace })),
    );
    await eventually("the Role to go", () => gone(() => rbac.readNamespacedRole({ name: NAME, namespace })));
    await eventually("the RoleBinding to go", () =>
      gone(() => rbac.readNamespacedRoleBinding({ name: NAME, namespace })),
    );
  });

  test("with provisionRole: false the user's own Role is used, never changed, and survives the CPA", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, SEED_DEPLOYMENT);
    await rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: NAME }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["get"] }] },
    });
    await apply(namespace, SEED_CPA.replace("  config:", "  provisionRole: false\n  config:"));
    await readyPod(namespace);
    const role = await rbac.readNamespacedRole({ name: NAME, namespace });
    assert.deepEqual(JSON.parse(JSON.stringify(role.rules)), [
      { apiGroups: ["*"], resources: ["*"], verbs: ["get"] },
    ]);
    assert.equal(role.metadata?.ownerReferences, undefined);
    await kubectl(["delete", "cpa", NAME, "-n", namespace, "--wait=true"]);
    await eventually("the Pod to go", async () =>
      (
        await core.listNamespacedPod({
          namespace,
          labelSelector: "app.kubernetes.io/managed-by=custom-pod-autoscaler-operator",
        })
      ).items.length === 0
        ? true
        : undefined,
    );
    await rbac.readNamespacedRole({ name: NAME, namespace });
  });

  test("an object of the same name that is not ours is reported, not overwritten", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, SEED_DEPLOYMENT);
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: NAME, labels: { mine: "yes" } } },
    });
    await apply(namespace, SEED_CPA);
    const cond = await eventually("a Provisioned=False condition", async () => {
      const c = (await getCpa(namespace)).status?.conditions?.find((x) => x.type === "Provisioned");
      return c?.status === "False" ? c : undefined;
    });
    assert.equal(cond.reason, "ResourceExists");
    assert.match(
      cond.message,
      /ServiceAccount python-custom-autoscaler already exists and is not managed by this CustomPodAutoscaler/,
    );
    const sa = await core.readNamespacedServiceAccount({ name: NAME, namespace });
    assert.deepEqual(sa.metadata?.labels, { mine: "yes" });
  });
});

describe("pausing", () => {
  test("the paused-replicas annotation holds the target and stops the autoscaler; removing it resumes", async (t) => {
    const { namespace } = await seededNamespace(t);
    const res = await kubectl([
      "annotate",
      "cpa",
      NAME,
      "-n",
      namespace,
      "v1.custompodautoscaler.com/paused-replicas=2",
    ]);
    assert.equal(res.code, 0, res.stderr);
    await eventually("the target at 2 replicas", async () => {
      const scale = await apps.readNamespacedDeploymentScale({ name: "hello-kubernetes", namespace });
      return scale.spec?.replicas === 2 ? true : undefined;
    });
    await eventually("the autoscaler Pod to go", async () =>
      (await core.readNamespacedPod({ name: NAME, namespace }).then(
        () => 200,
        (err: unknown) => statusOf(err),
      )) === 404
        ? true
        : undefined,
    );
    const paused = await eventually("Ready=False Paused", async () => {
      const c = await readyCondition(namespace);
      return c?.reason === "Paused" ? c : undefined;
    });
    assert.equal(paused.status, "False");
    assert.equal((await getCpa(namespace)).metadata.name, NAME, "pausing must not delete the CPA");

    await kubectl(["annotate", "cpa", NAME, "-n", namespace, "v1.custompodautoscaler.com/paused-replicas-"]);
    await readyPod(namespace);
    await eventually("Ready=True again", async () =>
      (await readyCondition(namespace))?.status === "True" ? true : undefined,
    );
  });
});

describe("failures stay contained", () => {
  test("a Pod the apiserver rejects gives a Warning event and a condition, and other CPAs keep working", async (t) => {
    const namespace = await testNamespace(t);
    await apply(namespace, SEED_DEPLOYMENT);
    // Valid for the CRD, rejected by Pod validation: a negative grace period is not allowed... use a bad restartPolicy.
    await apply(
      namespace,
      SEED_CPA.replace(
        "    spec:\n      containers:",
        "    spec:\n      restartPolicy: Sometimes\n      containers:",
      ),
    );
    const cond = await eventually("Provisioned=False PodRejected", async () => {
      const c = (await getCpa(namespace)).status?.conditions?.find((x) => x.type === "Provisioned");
      return c?.reason === "PodRejected" ? c : undefined;
    });
    assert.match(cond.message, /restartPolicy/);
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${NAME}`,
    });
    assert.ok(
      events.items.some((e) => e.type === "Warning" && e.reason === "PodRejected"),
      "no Warning event",
    );

    const other = await seededNamespace(t);
    assert.ok(other.pod.metadata?.uid);
  });
});

describe("validation at apply time", () => {
  const cases = [
    {
      name: "a scaleTargetRef without kind and name",
      manifest: SEED_CPA.replace(
        "    apiVersion: apps/v1\n    kind: Deployment\n    name: hello-kubernetes\n",
        "    apiVersion: apps/v1\n",
      ),
      errors: [/spec.scaleTargetRef.kind: Required value/, /spec.scaleTargetRef.name: Required value/],
    },
    {
      name: "no containers",
      manifest: SEED_CPA.replace(/ {6}containers:\n(.*\n){3}/, "      containers: []\n"),
      errors: [/spec.template.spec.containers.*at least 1 items/],
    },
    {
      name: "a config value that is not a string",
      manifest: SEED_CPA.replace('value: "10000"', "value: 10000"),
      errors: [/spec.config\[0\].value.*must be of type string/],
    },
    {
      name: "a config name that is not a valid env var name",
      manifest: SEED_CPA.replace("name: interval", "name: 1interval"),
      errors: [/spec.config\[0\].name.*must be a valid environment variable name/],
    },
    {
      name: "duplicate config names",
      manifest: SEED_CPA + '    - name: interval\n      value: "5"\n',
      errors: [/spec.config\[1\]: Duplicate value/],
    },
    ...["scaleTargetRef", "namespace", "CPA_NAME"].map((reserved) => ({
      name: `a config entry named ${reserved}, which the operator sets itself`,
      manifest: SEED_CPA.replace("name: interval", `name: ${reserved}`),
      errors: [new RegExp(`spec.config\\[0\\].name: Invalid value: "string": ${reserved} is reserved`)],
    })),
    {
      name: "the old v1alpha1 apiVersion",
      manifest: SEED_CPA.replace("custompodautoscaler.com/v1", "custompodautoscaler.com/v1alpha1"),
      errors: [/v1alpha1 is no longer supported: change apiVersion to custompodautoscaler.com\/v1/],
    },
  ];
  for (const c of cases) {
    test(`kubectl apply rejects ${c.name} with a message naming the field`, async () => {
      const res = await kubectl(["apply", "--dry-run=server", "-n", "default", "-f", "-"], c.manifest);
      assert.notEqual(res.code, 0, "the manifest was accepted");
      for (const e of c.errors) assert.match(res.stderr, e);
    });
  }

  test("kubectl explain documents every spec field", async () => {
    const res = await kubectl(["explain", "cpa.spec"]);
    assert.equal(res.code, 0, res.stderr);
    for (const field of [
      "template",
      "scaleTargetRef",
      "config",
      "provisionServiceAccount",
      "provisionRole",
      "provisionRoleBinding",
      "provisionPod",
      "roleRequiresMetricsServer",
      "roleRequiresArgoRollouts",
      "roleRequiresPodDeletionCost",
    ]) {
      assert.match(res.stdout, new RegExp(`^ {2}${field}\\s+<`, "m"), `${field} is not documented`);
    }
  });
});

describe("leader election", () => {
  test("with two operators only the leader writes, and killing it hands over", async (t) => {
    // The shared operator runs without election; it must not take part.
    await operator.stop();
    t.after(async () => {
      operator = await startOperator(atEnd, ["--resync=2s"]);
    });
    const args = [
      "--leader-elect",
      "--leader-election-namespace=cpa-system",
      `--leader-election-id=cpa-operator-${randomBytes(3).toString("hex")}`,
      "--leader-election-lease-duration=3s",
      "--leader-election-renew-deadline=2s",
      "--leader-election-retry-period=500ms",
    ];
    const a = await startOperator(cleanupOf(t), args);
    const b = await startOperator(cleanupOf(t), args);
    const isLeading = async (op: Operator): Promise<boolean> =>
      /^cpa_operator_leader 1$/m.test(await (await fetch(op.metricsUrl)).text());
    const [leader, standby] = await eventually("one leader", async () => {
      const [la, lb] = [await isLeading(a), await isLeading(b)];
      if (la === lb) return undefined;
      return la ? [a, b] : [b, a];
    });

    await seededNamespace(t);
    assert.equal(await standby.writes(), 0, "the standby wrote to the API");
    assert.ok((await leader.writes()) > 0);

    await leader.stop("SIGKILL");
    const namespace = await testNamespace(t);
    await apply(namespace, SEED_DEPLOYMENT);
    await apply(namespace, SEED_CPA);
    await readyPod(namespace);
    assert.ok(await isLeading(standby), "the standby did not take over");
    assert.ok((await standby.writes()) > 0);
  });
});
