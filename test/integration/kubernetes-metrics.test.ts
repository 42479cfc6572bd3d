// kubernetesMetricSpecs on the real control plane: a small metrics API server
// is registered with the aggregation layer (metrics.k8s.io, custom.metrics.k8s.io,
// external.metrics.k8s.io), and the autoscaler reads it through kube-apiserver
// with nothing but the Role the operator provisioned.
import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import type { PodsMetric, ResourceMetric, ValueMetric } from "../../src/autoscaler/k8smetrics/types.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { installBundleWithoutItsOperator } from "../support/fixtures.ts";
import { reachableFromApiserver, startMetricsApi, type MetricsApi } from "../support/metrics-api.ts";

import { cleanupOf, freePort, runPod, startOperator } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);
const NAME = "metrics-autoscaler";

const skip = reachableFromApiserver(admin)
  ? false
  : "the test metrics API must be reachable from kube-apiserver, which only works with the local control plane (npm run cluster:up)";

const cleanups: (() => Promise<void>)[] = [];
let metricsApi: MetricsApi;

before(async () => {
  if (skip) return;
  await installBundleWithoutItsOperator();
  metricsApi = await startMetricsApi(admin);
  cleanups.push(() => metricsApi.close());
  await startOperator((fn) => {
    cleanups.push(fn);
  });
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

const DEPLOYMENT = (replicas: number): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: app
          image: example/web:1
          resources:
            requests: { cpu: 200m, memory: 64Mi }
`;

function cpaYaml(config: Record<string, unknown>, roleRequiresMetricsServer = true): string {
  const entries = Object.entries(config)
    .map(([name, value]) => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      return `    - name: ${name}\n      value: ${JSON.stringify(text)}\n`;
    })
    .join("");
  return `apiVersion: custompodautoscaler.com/v1
kind: CustomPodAutoscaler
metadata:
  name: ${NAME}
spec:
  template:
    spec:
      containers:
        - name: autoscaler
          image: cpa:0.1.0
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: web }
  roleRequiresMetricsServer: ${roleRequiresMetricsServer}
  config:
${entries}`;
}

const shell = (script: string): unknown => ({
  type: "shell",
  timeout: 5000,
  shell: { entrypoint: "/bin/sh", command: ["-c", script] },
});

// The metric stage hands its whole input on, so the evaluate stage (and the
// REST API) can see exactly what the metric stage received.
const ECHO_INPUT = shell("cat");

async function setUp(t: TestContext, replicas: number): Promise<{ namespace: string; pods: string[] }> {
  const namespace = await testNamespace(t);
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], DEPLOYMENT(replicas));
  assert.equal(res.code, 0, res.stderr);
  const pods = await eventually(
    `${replicas} running web pods`,
    async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: "app=web" });
      const running = list.items.filter((p) => p.status?.phase === "Running");
      return running.length === replicas ? running.map((p) => p.metadata?.name ?? "") : undefined;
    },
    60_000,
  );
  return { namespace, pods };
}

async function startAutoscaler(t: TestContext, namespace: string, yaml: string) {
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], yaml);
  assert.equal(res.code, 0, res.stderr);
  const pod = await eventually("the autoscaler Pod", async () => {
    const p: V1Pod = await core.readNamespacedPod({ name: NAME, namespace });
    return p.status?.phase === "Running" ? p : undefined;
  });
  return runPod(cleanupOf(t), pod, { "/config.yaml": "{}\n" });
}

/** One entry of kubernetesMetrics, read loosely: which key is set depends on the spec's type. */
interface SeenMetric {
  current_replicas: number;
  spec: unknown;
  resource?: ResourceMetric;
  pods?: PodsMetric;
  object?: ValueMetric;
  external?: ValueMetric;
}

/** What the metric stage received, through GET /api/v1/metrics?dry_run=true. */
async function metricInput(port: number): Promise<{ kubernetesMetrics?: SeenMetric[] }> {
  return eventually("the metrics endpoint", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/metrics?dry_run=true`).catch(() => undefined);
    if (!res?.ok) return undefined;
    const metrics = (await res.json()) as { value?: string }[];
    const value = metrics[0]?.value;
    return value ? (JSON.parse(value) as { kubernetesMetrics?: SeenMetric[] }) : undefined;
  });
}

async function replicas(namespace: string): Promise<number | undefined> {
  return (await apps.readNamespacedDeploymentScale({ name: "web", namespace })).spec?.replicas;
}

describe("kubernetesMetricSpecs", { skip }, () => {
  test("a Resource metric from metrics.k8s.io reaches the metric stage in the original's shape and drives scaling", async (t) => {
    const { namespace, pods } = await setUp(t, 2);
    for (const pod of pods)
      metricsApi.state.pods[namespace] = {
        ...metricsApi.state.pods[namespace],
        [pod]: { app: { cpu: "100m", memory: "50Mi" } },
      };
    const port = await freePort();
    const spec = {
      type: "Resource",
      resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
    };
    // HPA arithmetic in the evaluator: desired = ceil(current * utilisation / target).
    const evaluate = shell(
      `python3 -c 'import json,sys,math; d=json.load(sys.stdin); m=json.loads(d["metrics"][0]["value"])["kubernetesMetrics"][0]; r=m["resource"]; u=100*sum(p["Value"] for p in r["pod_metrics_info"].values())/sum(r["requests"].values()); print(json.dumps({"targetReplicas": math.ceil(m["current_replicas"]*u/50)}))'`,
    );
    await startAutoscaler(
      t,
      namespace,
      cpaYaml({
        interval: "500",
        runMode: "per-resource",
        cpuInitializationPeriod: "0",
        kubernetesMetricSpecs: [spec],
        metric: ECHO_INPUT,
        evaluate,
        apiConfig: { enabled: true, host: "127.0.0.1", port },
      }),
    );

    const input = await metricInput(port);
    const [metric] = input.kubernetesMetrics ?? [];
    assert.ok(metric?.resource, `no resource metric in ${JSON.stringify(input)}`);
    const { pod_metrics_info, timestamp, ...rest } = metric.resource;
    assert.deepEqual(Object.keys(metric), ["current_replicas", "spec", "resource"]);
    assert.equal(metric.current_replicas, 2);
    assert.deepEqual(metric.spec, spec);
    assert.deepEqual(rest, {
      requests: Object.fromEntries(pods.map((p) => [p, 200])),
      ready_pod_count: 2,
      ignored_pods: {},
      missing_pods: {},
      total_pods: 2,
    });
    assert.match(timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    for (const pod of pods) {
      assert.deepEqual(pod_metrics_info[pod], { Timestamp: timestamp, Window: 30_000_000_000, Value: 100 });
    }
    assert.equal(await replicas(namespace), 2, "50% of requests is on target: no change");

    // Double the load: 100% of requests against a 50% target doubles the replicas.
    for (const pod of pods)
      metricsApi.state.pods[namespace] = {
        ...metricsApi.state.pods[namespace],
        [pod]: { app: { cpu: "200m" } },
      };
    await eventually("web at 4 replicas", async () => ((await replicas(namespace)) === 4 ? true : undefined));
    assert.ok(
      metricsApi.requests.some((p) => p === `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods`),
      "the autoscaler never asked the metrics API",
    );
  });

  test("Pods, Object and External metrics come from the custom and external metrics APIs", async (t) => {
    const { namespace, pods } = await setUp(t, 2);
    const state = metricsApi.state;
    state.podCustom[namespace] = {
      requests_per_second: Object.fromEntries(pods.map((p, i) => [p, `${i + 1}`])),
    };
    state.object[`${namespace}/deployments.apps/web/queue_depth`] = "7";
    state.external[namespace] = { queue_messages: ["30", "12500m"] };
    const specs = [
      {
        type: "Pods",
        pods: {
          metric: { name: "requests_per_second" },
          target: { type: "AverageValue", averageValue: "1" },
        },
      },
      {
        type: "Object",
        object: {
          metric: { name: "queue_depth" },
          describedObject: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
          target: { type: "Value", value: "10" },
        },
      },
      {
        type: "External",
        external: {
          metric: { name: "queue_messages", selector: { matchLabels: { queue: "jobs" } } },
          target: { type: "AverageValue", averageValue: "5" },
        },
      },
    ];
    const port = await freePort();
    await startAutoscaler(
      t,
      namespace,
      cpaYaml({
        interval: "3600000",
        runMode: "per-resource",
        kubernetesMetricSpecs: specs,
        metric: ECHO_INPUT,
        evaluate: shell(`echo '{"targetReplicas": 2}'`),
        apiConfig: { enabled: true, host: "127.0.0.1", port },
      }),
    );
    const input = await metricInput(port);
    const [podsMetric, objectMetric, externalMetric] = input.kubernetesMetrics ?? [];
    const seenPods = podsMetric?.pods;
    assert.ok(seenPods, `no pods metric in ${JSON.stringify(input)}`);
    assert.deepEqual(
      Object.fromEntries(Object.entries(seenPods.pod_metrics_info ?? {}).map(([p, m]) => [p, m.Value])),
      Object.fromEntries(pods.map((p, i) => [p, (i + 1) * 1000])),
    );
    assert.equal(seenPods.ready_pod_count, 2);
    assert.equal(seenPods.total_pods, 2);
    assert.deepEqual(objectMetric?.object?.current, { value: 7000 });
    assert.deepEqual(objectMetric.spec, specs[1]);
    assert.deepEqual(externalMetric?.external?.current, { average_value: 42500 });
    assert.ok(
      metricsApi.requests.includes(
        `/apis/external.metrics.k8s.io/v1beta1/namespaces/${namespace}/queue_messages`,
      ),
    );
  });

  test("without the metrics Role, requireKubernetesMetrics fails the run and the status says why", async (t) => {
    const { namespace, pods } = await setUp(t, 1);
    metricsApi.state.pods[namespace] = Object.fromEntries(pods.map((p) => [p, { app: { cpu: "100m" } }]));
    const autoscaler = await startAutoscaler(
      t,
      namespace,
      cpaYaml(
        {
          interval: "500",
          runMode: "per-resource",
          requireKubernetesMetrics: "true",
          kubernetesMetricSpecs: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
            },
          ],
          metric: shell("echo -n 1"),
          evaluate: shell(`echo '{"targetReplicas": 3}'`),
          apiConfig: { enabled: false },
        },
        false,
      ),
    );
    const condition = await eventually("ScalingActive=False", async () => {
      const cpa = (await custom.getNamespacedCustomObject({
        group: "custompodautoscaler.com",
        version: "v1",
        namespace,
        plural: "custompodautoscalers",
        name: NAME,
      })) as CustomPodAutoscaler;
      const c = cpa.status?.conditions?.find((x) => x.type === "ScalingActive");
      return c?.status === "False" ? c : undefined;
    });
    assert.equal(condition.reason, "FailedGetResourceMetric");
    assert.match(condition.message, /roleRequiresMetricsServer/);
    assert.equal(await replicas(namespace), 1, "scaled although the required metric could not be read");
    assert.match(autoscaler.output(), /could not read Kubernetes metrics/);
  });
});
