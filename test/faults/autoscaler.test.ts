// The autoscaler's status reporter under faults: a read that fails at start,
// and a status write refused until the Role allows it. Scaling goes on through
// both, and the status appears once each is fixed.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test, type TestContext } from "node:test";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import { LocalImages, RUNTIME_IMAGE } from "../../hack/local-pods/images.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { cleanupOf, repoFile, runCpa, serviceAccountToken, startOperator } from "../support/processes.ts";
import { WEB_DEPLOYMENT } from "./web.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);

before(async () => {
  const res = await kubectl(["apply", "-f", repoFile("config", "cluster.yaml")]);
  assert.equal(res.code, 0, res.stderr);
  await kubectl(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
  await kubectl(["wait", "--for=condition=Established", "crd/custompodautoscalers.custompodautoscaler.com"]);
});

const MANIFESTS = `${WEB_DEPLOYMENT}---
apiVersion: custompodautoscaler.com/v1
kind: CustomPodAutoscaler
metadata: {name: scaler}
spec:
  template: {spec: {containers: [{name: scaler, image: scaler:1}]}}
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  provisionPod: false
`;

const SCALE_RULES: V1PolicyRule[] = [
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] },
  { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "update", "patch"] },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: ["custompodautoscaler.com"], resources: ["custompodautoscalers"], verbs: ["get"] },
];
const STATUS_RULE: V1PolicyRule = {
  apiGroups: ["custompodautoscaler.com"],
  resources: ["custompodautoscalers/status"],
  verbs: ["patch"],
};

/** A namespace with web, a CPA for it, and a ServiceAccount holding `rules`; returns its token. */
async function setup(t: TestContext, rules: V1PolicyRule[]): Promise<{ namespace: string; token: string }> {
  const namespace = await testNamespace(t);
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], MANIFESTS);
  assert.equal(res.code, 0, res.stderr);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "scaler" } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: "scaler" }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "scaler" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "scaler" },
      subjects: [{ kind: "ServiceAccount", name: "scaler", namespace }],
    },
  });
  return { namespace, token: await serviceAccountToken(namespace, "scaler") };
}

/** The autoscaler, evaluating to 2 replicas every second, with this kubeconfig. */
function runAutoscaler(t: TestContext, namespace: string, kubeconfig: string) {
  const dir = mkdtempSync(join(tmpdir(), "cpa-reporter-"));
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    JSON.stringify({
      namespace,
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
      runMode: "per-resource",
      interval: 1000,
      apiConfig: { enabled: false },
      metric: { type: "shell", shell: { entrypoint: "/bin/echo", command: ["1"] } },
      evaluate: { type: "shell", shell: { entrypoint: "/bin/echo", command: ['{"targetReplicas": 2}'] } },
    }),
  );
  return runCpa(cleanupOf(t), ["autoscaler", "--config", config, "--kubeconfig", kubeconfig], {
    CPA_NAME: "scaler",
  });
}

async function status(namespace: string) {
  const cpa = (await custom.getNamespacedCustomObject({
    group: "custompodautoscaler.com",
    version: "v1",
    namespace,
    plural: "custompodautoscalers",
    name: "scaler",
  })) as CustomPodAutoscaler;
  return cpa.status;
}

async function scaledTo2(namespace: string): Promise<void> {
  await eventually("web at 2 replicas", async () => {
    const scale = await apps.readNamespacedDeploymentScale({ name: "web", namespace });
    return scale.spec?.replicas === 2 ? true : undefined;
  });
}

/** A few runs at the 1 s interval, for the reporter to have tried and failed. */
const fewRuns = (): Promise<void> => new Promise((r) => setTimeout(r, 4000));

describe("the autoscaler's status reporter", () => {
  test("a read of the CPA that fails at start is retried; the status appears once the API answers", async (t) => {
    const { namespace, token } = await setup(t, [...SCALE_RULES, STATUS_RULE]);
    const proxy = await startFaultProxy(cleanupOf(t), admin);
    proxy.fail({ method: "GET", path: /\/custompodautoscalers\/scaler$/, status: 503 });
    const autoscaler = runAutoscaler(t, namespace, proxy.kubeconfig(token, namespace));
    await scaledTo2(namespace);
    await fewRuns();
    assert.ok(proxy.failed >= 2, "the reporter did not retry its read");
    assert.equal((await status(namespace))?.currentReplicas, undefined);
    proxy.clear();
    await eventually("the status to appear", async () =>
      (await status(namespace))?.currentReplicas === 2 ? true : undefined,
    );
    assert.equal(autoscaler.child.exitCode, null);
  });

  test("a status write refused by RBAC is retried; the status appears once the Role allows it", async (t) => {
    const { namespace, token } = await setup(t, SCALE_RULES);
    const proxy = await startFaultProxy(cleanupOf(t), admin);
    const autoscaler = runAutoscaler(t, namespace, proxy.kubeconfig(token, namespace));
    await scaledTo2(namespace);
    await fewRuns();
    assert.equal((await status(namespace))?.currentReplicas, undefined);
    await rbac.patchNamespacedRole({
      namespace,
      name: "scaler",
      body: [{ op: "add", path: "/rules/-", value: STATUS_RULE }],
    });
    await eventually("the status to appear", async () =>
      (await status(namespace))?.currentReplicas === 2 ? true : undefined,
    );
    assert.equal(autoscaler.child.exitCode, null);
  });
});

describe("an autoscaler whose script crashes on start", () => {
  test("its CPA is Ready=False with the waiting reason, restarts and last message; True once fixed", async (t) => {
    // The local kubelet runs the autoscaler Pod as a process and reports what truly happens to it.
    const dir = mkdtempSync(join(tmpdir(), "cpa-crasher-"));
    writeFileSync(join(dir, "Dockerfile"), `FROM ${RUNTIME_IMAGE}\nADD config.yaml /config.yaml\n`);
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "interval: soon", // not a number: the autoscaler refuses to start
        "apiConfig: {enabled: false}",
        "metric: {type: shell, shell: {entrypoint: /bin/echo, command: ['1']}}",
        `evaluate: {type: shell, shell: {entrypoint: /bin/echo, command: ['{"targetReplicas": 1}']}}`,
        "",
      ].join("\n"),
    );
    const images = new LocalImages();
    images.build("crasher:1", dir);
    const kubelet = new LocalKubelet({
      admin,
      images,
      onEvent: (pod, message) => {
        if (process.env["CPA_SHOW_LOGS"] === "1")
          process.stderr.write(`[kubelet] ${pod.metadata?.name ?? ""}: ${message}\n`);
      },
    });
    t.after(() => kubelet.stop());
    await kubelet.start();
    await startOperator(cleanupOf(t));
    const namespace = await testNamespace(t);
    const cpa = (config: string) => `${WEB_DEPLOYMENT}---
apiVersion: custompodautoscaler.com/v1
kind: CustomPodAutoscaler
metadata: {name: crasher}
spec:
  template: {spec: {containers: [{name: crasher, image: "crasher:1"}]}}
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  config: [${config}]
`;
    const apply = async (config: string) => {
      const res = await kubectl(["apply", "-n", namespace, "-f", "-"], cpa(config));
      assert.equal(res.code, 0, res.stderr);
    };
    const ready = async () => {
      const obj = (await custom.getNamespacedCustomObject({
        group: "custompodautoscaler.com",
        version: "v1",
        namespace,
        plural: "custompodautoscalers",
        name: "crasher",
      })) as CustomPodAutoscaler;
      return obj.status?.conditions?.find((c) => c.type === "Ready");
    };
    await apply("");
    const failing = await eventually(
      "Ready=False with CrashLoopBackOff",
      async () => {
        const c = await ready();
        return c?.status === "False" && c.message.includes("CrashLoopBackOff") ? c : undefined;
      },
      60_000,
    );
    assert.equal(failing.reason, "AutoscalerNotReady");
    assert.match(failing.message, /restarted \d+ times?; last exit code 1 \(Error\): .*interval/);

    // The fix: spec.config overrides the file's interval; the operator replaces the Pod.
    await apply(`{name: interval, value: "1000"}`);
    const fixed = await eventually(
      "Ready=True",
      async () => {
        const c = await ready();
        return c?.status === "True" ? c : undefined;
      },
      60_000,
    );
    assert.equal(fixed.reason, "AutoscalerRunning");
  });
});
