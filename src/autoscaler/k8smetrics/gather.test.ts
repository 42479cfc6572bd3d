import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Discovery, ResolvedResource } from "../../kube/discovery.ts";
import { UnresolvedKindError } from "../../kube/discovery.ts";
import { KubeApiError, type ApiStatus, type CallOptions, type KubeHttp } from "../../kube/http.ts";
import {
  gatherKubernetesMetrics,
  type GatherOptions,
  type KindResolver,
  type MetricsHttp,
} from "./gather.ts";
import { externalValues, metricValues, NOW, pod, podMetrics } from "./test-fixtures.ts";
import type { MetricSpec } from "./types.ts";

interface Call {
  path: string;
  query: Record<string, unknown>;
}

/** A route answers with a body, or with an error status (and optional apiserver Status). */
type Answer = { body: unknown } | { status: number; apiStatus?: ApiStatus };

function fakeHttp(routes: Record<string, Answer>): { http: MetricsHttp; calls: Call[] } {
  const calls: Call[] = [];
  const http: MetricsHttp = {
    request<T>(method: string, path: string, options?: CallOptions): Promise<T> {
      const query = Object.fromEntries(
        Object.entries(options?.query ?? {}).filter(([, v]) => v !== undefined),
      );
      calls.push({ path, query });
      const answer: Answer = routes[path] ?? { status: 404, apiStatus: NOT_FOUND };
      if ("body" in answer) return Promise.resolve(structuredClone(answer.body) as T);
      return Promise.reject(new KubeApiError(method, path, answer.status, answer.apiStatus));
    },
  };
  return { http, calls };
}

const NOT_FOUND: ApiStatus = {
  kind: "Status",
  status: "Failure",
  message: "the server could not find the requested resource",
  reason: "NotFound",
  code: 404,
};

const RESOURCES: Record<string, ResolvedResource> = {
  "apps/v1 Deployment": res("apps", "v1", "deployments", "Deployment", true),
  "networking.k8s.io/v1 Ingress": res("networking.k8s.io", "v1", "ingresses", "Ingress", true),
  "v1 Service": res("", "v1", "services", "Service", true),
  "v1 Node": res("", "v1", "nodes", "Node", false),
  "example.com/v1 Logstash": res("example.com", "v1", "logstashes", "Logstash", true),
};

function res(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
): ResolvedResource {
  return { group, version, resource, kind, namespaced, scalable: false };
}

const discovery: KindResolver = {
  resolve(apiVersion, kind) {
    const found = RESOURCES[`${apiVersion ?? ""} ${kind}`];
    return found
      ? Promise.resolve(found)
      : Promise.reject(
          new UnresolvedKindError(`the API server has no kind ${kind} in ${apiVersion ?? "any API group"}`),
        );
  },
};

const NS = "shop";
const SELECTOR = "app=web";
const POD_METRICS = `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const CUSTOM_GROUP = "/apis/custom.metrics.k8s.io";
const CUSTOM = `${CUSTOM_GROUP}/v1beta2/namespaces/${NS}`;
const EXTERNAL = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}`;

const customGroup = (versions = ["v1beta2", "v1beta1"]): Answer => ({
  body: {
    kind: "APIGroup",
    name: "custom.metrics.k8s.io",
    versions: versions.map((version) => ({ groupVersion: `custom.metrics.k8s.io/${version}`, version })),
    preferredVersion: { groupVersion: `custom.metrics.k8s.io/${versions[0] ?? ""}`, version: versions[0] },
  },
});

const webPods: Answer = { body: { items: [pod("web-1"), pod("web-2", { ready: "False" })] } };

function gather(specs: MetricSpec[], routes: Record<string, Answer>) {
  const { http, calls } = fakeHttp(routes);
  const opts: GatherOptions = {
    specs,
    http,
    discovery,
    namespace: NS,
    current: 2,
    selector: SELECTOR,
    cpuInitializationPeriodSeconds: 300,
    initialReadinessDelaySeconds: 30,
    now: NOW,
  };
  return { result: gatherKubernetesMetrics(opts), calls };
}

const cpuUtilization: MetricSpec = {
  type: "Resource",
  resource: { name: "cpu", target: { type: "Utilization" } },
};
const memoryAverage: MetricSpec = {
  type: "Resource",
  resource: { name: "memory", target: { type: "AverageValue", averageValue: "100Mi" } },
};

describe("gathering kubernetesMetricSpecs", () => {
  test("KubeHttp and Discovery fit the interfaces the gatherer takes", () => {
    const asHttp = (h: KubeHttp): MetricsHttp => h;
    const asResolver = (d: Discovery): KindResolver => d;
    assert.equal(typeof asHttp, "function");
    assert.equal(typeof asResolver, "function");
  });

  test("a Resource metric: pod metrics and pods by the target's selector, wrapped as the original", async () => {
    const { result, calls } = gather([cpuUtilization], {
      [POD_METRICS]: {
        body: podMetrics(
          { "web-1": [{ cpu: "100m" }], "web-2": [{ cpu: "300m" }] },
          "2024-01-01T11:59:50Z",
          "30s",
        ),
      },
      [PODS]: webPods,
    });
    const { metrics, failures } = await result;
    assert.deepEqual(failures, []);
    assert.equal(
      JSON.stringify(metrics),
      '[{"current_replicas":2,' +
        '"spec":{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization"}}},' +
        '"resource":{"pod_metrics_info":{' +
        '"web-1":{"Timestamp":"2024-01-01T11:59:50Z","Window":30000000000,"Value":100},' +
        '"web-2":{"Timestamp":"2024-01-01T11:59:50Z","Window":30000000000,"Value":300}},' +
        '"requests":{"web-1":200,"web-2":200},"ready_pod_count":2,"ignored_pods":{},"missing_pods":{},' +
        '"total_pods":2,"timestamp":"2024-01-01T11:59:50Z"}}]',
    );
    assert.deepEqual(calls, [
      { path: POD_METRICS, query: { labelSelector: SELECTOR } },
      { path: PODS, query: { labelSelector: SELECTOR } },
    ]);
  });

  test("Resource metrics for cpu and memory share one read of the pod metrics and of the pods", async () => {
    const { result, calls } = gather([cpuUtilization, memoryAverage], {
      [POD_METRICS]: { body: podMetrics({ "web-1": [{ cpu: "100m", memory: "64Mi" }] }) },
      [PODS]: { body: { items: [pod("web-1")] } },
    });
    const { metrics, failures } = await result;
    assert.deepEqual(failures, []);
    assert.deepEqual(
      metrics.map((m) => ("resource" in m ? m.resource.pod_metrics_info["web-1"]?.Value : undefined)),
      [100, 67_108_864_000],
    );
    assert.deepEqual(
      calls.map((c) => c.path),
      [POD_METRICS, PODS],
    );
  });

  test("the spec is passed on as configured, and not shared with the config", async () => {
    const { result } = gather([memoryAverage], {
      [POD_METRICS]: { body: podMetrics({ "web-1": [{ memory: "1Mi" }] }) },
      [PODS]: { body: { items: [pod("web-1")] } },
    });
    const [metric] = (await result).metrics;
    assert.ok(metric);
    assert.deepEqual(metric.spec, memoryAverage);
    assert.notEqual(metric.spec, memoryAverage);
  });

  test("a Pods metric reads custom.metrics.k8s.io for every pod of the selector", async () => {
    const spec: MetricSpec = {
      type: "Pods",
      pods: {
        metric: { name: "packets-per-second", selector: { matchLabels: { verb: "GET" } } },
        target: { type: "AverageValue", averageValue: "1k" },
      },
    };
    const { result, calls } = gather([spec], {
      [CUSTOM_GROUP]: customGroup(),
      [`${CUSTOM}/pods/*/packets-per-second`]: { body: metricValues({ "web-1": "900", "web-2": "1100" }) },
      [PODS]: webPods,
    });
    const { metrics, failures } = await result;
    assert.deepEqual(failures, []);
    const [metric] = metrics;
    assert.ok(metric && "pods" in metric);
    assert.equal(metric.current_replicas, 2);
    assert.deepEqual(metric.pods.pod_metrics_info?.["web-2"], {
      Timestamp: "2024-01-01T11:59:50Z",
      Window: 60_000_000_000,
      Value: 1_100_000,
    });
    assert.deepEqual(calls[1], {
      path: `${CUSTOM}/pods/*/packets-per-second`,
      query: { labelSelector: SELECTOR, metricLabelSelector: "verb=GET" },
    });
  });

  test("the custom metrics API version comes from discovery: v1beta1 when that is all there is", async () => {
    const spec: MetricSpec = {
      type: "Pods",
      pods: { metric: { name: "rps" }, target: { type: "AverageValue", averageValue: "1" } },
    };
    const { result, calls } = gather([spec], {
      [CUSTOM_GROUP]: customGroup(["v1beta1"]),
      [`${CUSTOM_GROUP}/v1beta1/namespaces/${NS}/pods/*/rps`]: { body: metricValues({ "web-1": "1" }) },
      [PODS]: webPods,
    });
    assert.deepEqual((await result).failures, []);
    assert.deepEqual(calls[1]?.query, { labelSelector: SELECTOR });
  });

  const objectSpec = (
    describedObject: Record<string, string>,
    target: Record<string, string> = { type: "Value", value: "10" },
  ): MetricSpec => ({
    type: "Object",
    object: { metric: { name: "requests-per-second" }, describedObject, target },
  });

  const objectPaths: [string, Record<string, string>, string][] = [
    [
      "a Deployment: group-qualified resource from discovery",
      { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
      `${CUSTOM}/deployments.apps/web/requests-per-second`,
    ],
    [
      "a core Service: the bare resource",
      { apiVersion: "v1", kind: "Service", name: "web" },
      `${CUSTOM}/services/web/requests-per-second`,
    ],
    [
      "a kind whose plural is not kind + s",
      { apiVersion: "example.com/v1", kind: "Logstash", name: "logs" },
      `${CUSTOM}/logstashes.example.com/logs/requests-per-second`,
    ],
    [
      "a Namespace: the namespace's own metrics path",
      { apiVersion: "v1", kind: "Namespace", name: "ignored" },
      `${CUSTOM}/metrics/requests-per-second`,
    ],
    [
      "a cluster-scoped Node: no namespace in the path",
      { apiVersion: "v1", kind: "Node", name: "node-1" },
      `${CUSTOM_GROUP}/v1beta2/nodes/node-1/requests-per-second`,
    ],
  ];
  for (const [name, described, path] of objectPaths) {
    test(`an Object metric on ${name}`, async () => {
      const { result, calls } = gather([objectSpec(described)], {
        [CUSTOM_GROUP]: customGroup(),
        [path]: { body: metricValues({ [described["name"] ?? ""]: "10" }, described["kind"]) },
        [PODS]: webPods,
      });
      const { metrics, failures } = await result;
      assert.deepEqual(failures, []);
      assert.ok(calls.some((c) => c.path === path));
      assert.deepEqual(metrics[0] && "object" in metrics[0] ? metrics[0].object : undefined, {
        current: { value: 10_000 },
        ready_pod_count: 1,
        timestamp: "2024-01-01T11:59:50Z",
      });
    });
  }

  test("an Object metric with an AverageValue target does not read the pods", async () => {
    const path = `${CUSTOM}/deployments.apps/web/requests-per-second`;
    const { result, calls } = gather(
      [
        objectSpec(
          { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
          { type: "AverageValue", averageValue: "1" },
        ),
      ],
      { [CUSTOM_GROUP]: customGroup(), [path]: { body: metricValues({ web: "3" }, "Deployment") } },
    );
    const [metric] = (await result).metrics;
    assert.deepEqual(metric && "object" in metric ? metric.object : undefined, {
      current: { average_value: 3000 },
      timestamp: "2024-01-01T11:59:50Z",
    });
    assert.ok(!calls.some((c) => c.path === PODS));
  });

  test("an External metric: its own selector, the sum of the series", async () => {
    const spec: MetricSpec = {
      type: "External",
      external: {
        metric: { name: "queue_messages_ready", selector: { matchLabels: { queue: "orders" } } },
        target: { type: "Value", value: "30" },
      },
    };
    const { result, calls } = gather([spec], {
      [`${EXTERNAL}/queue_messages_ready`]: { body: externalValues(["12", "30"]) },
      [PODS]: webPods,
    });
    const [metric] = (await result).metrics;
    assert.equal(
      JSON.stringify(metric && "external" in metric ? metric.external : undefined),
      '{"current":{"value":42000},"ready_pod_count":1,"timestamp":"2024-01-01T11:59:50Z"}',
    );
    assert.deepEqual(calls[0], {
      path: `${EXTERNAL}/queue_messages_ready`,
      query: { labelSelector: "queue=orders" },
    });
  });

  test("no specs gather nothing, and ask nothing", async () => {
    const { result, calls } = gather([], {});
    assert.deepEqual(await result, { metrics: [], failures: [] });
    assert.deepEqual(calls, []);
  });
});

describe("failures", () => {
  async function failureOf(specs: MetricSpec[], routes: Record<string, Answer>) {
    const { result } = gather(specs, routes);
    const { failures } = await result;
    assert.equal(failures.length, 1);
    const [failure] = failures;
    assert.ok(failure);
    return failure.error;
  }

  test("metrics-server not installed (404, and its group not served)", async () => {
    const error = await failureOf([cpuUtilization], { [PODS]: webPods });
    assert.equal(error.code, "MetricsApiUnavailable");
    assert.equal(
      error.message,
      "Resource metric cpu: the metrics API (metrics.k8s.io) is not available: is metrics-server installed? " +
        "(HTTP 404: the server could not find the requested resource)",
    );
  });

  test("metrics-server registered but down (503)", async () => {
    const error = await failureOf([cpuUtilization], {
      [POD_METRICS]: {
        status: 503,
        apiStatus: { kind: "Status", message: "service unavailable", code: 503 },
      },
      [PODS]: webPods,
    });
    assert.equal(error.code, "MetricsApiUnavailable");
    assert.match(
      error.message,
      /^Resource metric cpu: the metrics API \(metrics.k8s.io\) is not available: is metrics-server installed\? \(HTTP 503/,
    );
  });

  test("forbidden (403) says to set roleRequiresMetricsServer", async () => {
    const error = await failureOf([cpuUtilization], {
      [POD_METRICS]: {
        status: 403,
        apiStatus: {
          kind: "Status",
          message:
            'pods.metrics.k8s.io is forbidden: User "system:serviceaccount:shop:cpa" cannot list resource',
          code: 403,
        },
      },
      [PODS]: webPods,
    });
    assert.equal(error.code, "MetricsApiForbidden");
    assert.match(
      error.message,
      /^Resource metric cpu: not allowed to read the metrics API \(metrics.k8s.io\): set roleRequiresMetricsServer: true on the CustomPodAutoscaler/,
    );
    assert.match(error.message, /cannot list resource/);
  });

  test("any other status is reported with its code", async () => {
    const error = await failureOf([cpuUtilization], {
      [POD_METRICS]: { status: 500, apiStatus: { kind: "Status", message: "etcd is sad", code: 500 } },
      [PODS]: webPods,
    });
    assert.equal(error.code, "MetricsApiFailed");
    assert.equal(
      error.message,
      "Resource metric cpu: the metrics API (metrics.k8s.io) answered HTTP 500: etcd is sad",
    );
  });

  test("an external metric the adapter does not have (404 from a served API)", async () => {
    const spec: MetricSpec = {
      type: "External",
      external: { metric: { name: "nope" }, target: { type: "AverageValue", averageValue: "1" } },
    };
    const error = await failureOf([spec], {
      "/apis/external.metrics.k8s.io": { body: { kind: "APIGroup" } },
      [`${EXTERNAL}/nope`]: {
        status: 404,
        apiStatus: { kind: "Status", message: 'no metric "nope"', code: 404 },
      },
    });
    assert.equal(error.code, "MetricNotFound");
    assert.match(
      error.message,
      /^External metric nope: the external metrics API \(external.metrics.k8s.io\) has no such metric: no metric "nope"/,
    );
  });

  test("no custom metrics adapter: the group is not served", async () => {
    const spec: MetricSpec = {
      type: "Pods",
      pods: { metric: { name: "rps" }, target: { type: "AverageValue", averageValue: "1" } },
    };
    const error = await failureOf([spec], { [PODS]: webPods });
    assert.equal(error.code, "MetricsApiUnavailable");
    assert.match(
      error.message,
      /^Pods metric rps: the custom metrics API \(custom.metrics.k8s.io\) is not available: is a custom metrics adapter/,
    );
  });

  test("a described object of a kind the API server does not know", async () => {
    const spec = {
      type: "Object",
      object: {
        metric: { name: "hits" },
        describedObject: { apiVersion: "example.com/v1", kind: "Widget", name: "w" },
        target: { type: "Value", value: "1" },
      },
    };
    const error = await failureOf([spec], { [CUSTOM_GROUP]: customGroup(), [PODS]: webPods });
    assert.equal(error.code, "UnresolvedObject");
    assert.equal(
      error.message,
      "Object metric hits on Widget w: describedObject: the API server has no kind Widget in example.com/v1",
    );
  });

  test("the pods cannot be listed", async () => {
    const error = await failureOf([cpuUtilization], {
      [POD_METRICS]: { body: podMetrics({ "web-1": [{ cpu: "1m" }] }) },
      [PODS]: { status: 403, apiStatus: { kind: "Status", message: "pods is forbidden", code: 403 } },
    });
    assert.equal(error.code, "PodListFailed");
    assert.equal(
      error.message,
      "Resource metric cpu: could not list the target's pods in namespace shop: pods is forbidden: " +
        "the autoscaler's Role needs get and list on pods",
    );
  });

  test("ContainerResource is refused without a request", async () => {
    const spec = {
      type: "ContainerResource",
      containerResource: { name: "cpu", container: "app", target: { type: "Utilization" } },
    };
    const { result, calls } = gather([spec], {});
    const [failure] = (await result).failures;
    assert.equal(failure?.error.code, "InvalidMetricSpec");
    assert.match(
      failure.error.message,
      /^ContainerResource metric cpu: ContainerResource metrics are not supported/,
    );
    assert.deepEqual(calls, []);
  });

  test("one failing spec does not stop the others; both lists keep the specs' order", async () => {
    const external: MetricSpec = {
      type: "External",
      external: { metric: { name: "queue" }, target: { type: "AverageValue", averageValue: "1" } },
    };
    const broken: MetricSpec = { type: "Pods", pods: { metric: { name: "rps" }, target: { type: "Value" } } };
    const { result } = gather([broken, cpuUtilization, external, memoryAverage], {
      [POD_METRICS]: { body: podMetrics({ "web-1": [{ cpu: "1m", memory: "1Mi" }] }) },
      [PODS]: { body: { items: [pod("web-1")] } },
      [`${EXTERNAL}/queue`]: { body: externalValues(["1"]) },
    });
    const { metrics, failures } = await result;
    assert.deepEqual(
      metrics.map((m) => m.spec),
      [cpuUtilization, external, memoryAverage],
    );
    assert.deepEqual(
      failures.map((f) => [f.spec, f.error.code]),
      [[broken, "InvalidMetricSpec"]],
    );
  });
});
