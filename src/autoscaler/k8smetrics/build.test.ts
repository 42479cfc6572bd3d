import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { externalMetric, objectMetric, podsMetric, resourceMetric } from "./build.ts";
import { KubernetesMetricError, type KubernetesMetricErrorCode } from "./errors.ts";
import { fromMillis } from "./go-time.ts";
import { ago, externalValues, metricValues, NOW, pod, podMetrics } from "./test-fixtures.ts";
import type { Pod, PodMetricsList } from "./types.ts";

const windows = {
  now: fromMillis(NOW),
  cpuInitializationPeriodSeconds: 300,
  initialReadinessDelaySeconds: 30,
};

function resource(
  podMetricsList: PodMetricsList,
  pods: Pod[],
  target: "Utilization" | "AverageValue" = "Utilization",
  name = "cpu",
) {
  return resourceMetric({ resource: name, target, podMetrics: podMetricsList, pods, windows });
}

function throwsCode(fn: () => unknown, code: KubernetesMetricErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KubernetesMetricError, String(err));
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe("Resource metrics", () => {
  test("serialise exactly as the original's documented example", () => {
    const metric = resource(
      podMetrics({ "flask-metric-697794dd85-bsttm": [{ cpu: "4m" }] }, "2021-04-05T18:10:10Z", "30s"),
      [pod("flask-metric-697794dd85-bsttm", { requests: [{ cpu: "200m" }] })],
    );
    assert.equal(
      JSON.stringify(metric),
      '{"pod_metrics_info":{"flask-metric-697794dd85-bsttm":{"Timestamp":"2021-04-05T18:10:10Z","Window":30000000000,"Value":4}},' +
        '"requests":{"flask-metric-697794dd85-bsttm":200},"ready_pod_count":1,"ignored_pods":{},"missing_pods":{},' +
        '"total_pods":1,"timestamp":"2021-04-05T18:10:10Z"}',
    );
  });

  test("Utilization: usage summed over containers in nanocores, requests summed, pods grouped", () => {
    const pods = [
      pod("web-b", { requests: [{ cpu: "100m" }, { cpu: "150m" }] }),
      pod("web-a", { requests: [{ cpu: "0.5" }] }),
      pod("web-pending", { phase: "Pending", requests: [{ cpu: "500m" }] }),
      pod("web-new", { requests: [{ cpu: "500m" }] }),
      pod("web-starting", { startedAgo: 20, ready: "False", transitionAgo: 20, requests: [{ cpu: "500m" }] }),
      pod("web-failed", { phase: "Failed", requests: [{ cpu: "500m" }] }),
    ];
    const metric = resource(
      podMetrics(
        {
          "web-b": [{ cpu: "50000000n" }, { cpu: "25000001n" }],
          "web-a": [{ cpu: "250m" }],
          "web-starting": [{ cpu: "900m" }],
          "web-pending": [{ cpu: "1m" }],
          "web-failed": [{ cpu: "1m" }],
        },
        "2024-01-01T11:59:30.5Z",
        "10.5s",
      ),
      pods,
    );
    const sample = (Value: number) => ({
      Timestamp: "2024-01-01T11:59:30.5Z",
      Window: 10_500_000_000,
      Value,
    });
    assert.deepEqual(metric, {
      pod_metrics_info: { "web-a": sample(250), "web-b": sample(76), "web-failed": sample(1) },
      requests: {
        "web-a": 500,
        "web-b": 250,
        "web-failed": 500,
        "web-new": 500,
        "web-pending": 500,
        "web-starting": 500,
      },
      ready_pod_count: 2,
      ignored_pods: { "web-pending": {}, "web-starting": {} },
      missing_pods: { "web-new": {} },
      total_pods: 6,
      timestamp: "2024-01-01T11:59:30.5Z",
    });
    // Go marshals maps with sorted keys; the JSON text follows.
    assert.deepEqual(Object.keys(metric.pod_metrics_info), ["web-a", "web-b", "web-failed"]);
  });

  test("AverageValue: memory in milli-units, requests null (not gathered, not required)", () => {
    const metric = resource(
      podMetrics({ "api-1": [{ memory: "128Mi" }, { memory: "64Mi" }] }, ago(5), "15s"),
      [pod("api-1", { requests: [{}] })],
      "AverageValue",
      "memory",
    );
    assert.deepEqual(metric, {
      pod_metrics_info: {
        "api-1": { Timestamp: "2024-01-01T11:59:55Z", Window: 15_000_000_000, Value: 201_326_592_000 },
      },
      requests: null,
      ready_pod_count: 1,
      ignored_pods: {},
      missing_pods: {},
      total_pods: 1,
      timestamp: "2024-01-01T11:59:55Z",
    });
  });

  test("a pod with a container that does not report the resource has no sample: it is missing", () => {
    const metric = resource(podMetrics({ a: [{ cpu: "1m" }, { memory: "1Mi" }] }), [pod("a")]);
    assert.deepEqual(metric.pod_metrics_info, {});
    assert.deepEqual(metric.missing_pods, { a: {} });
  });

  test("the timestamp is the first sample's", () => {
    const list = podMetrics({ a: [{ cpu: "1m" }] }, "2024-01-01T11:00:00Z");
    list.items?.push({ metadata: { name: "b" }, timestamp: "2024-01-01T11:30:00Z", containers: [] });
    assert.equal(resource(list, [pod("a"), pod("b")]).timestamp, "2024-01-01T11:00:00Z");
  });

  test("no samples at all fail, before the pods are looked at", () => {
    throwsCode(() => resource({ items: [] }, []), "NoMetrics", /the metrics API returned no values/);
  });

  test("no pods fail", () => {
    throwsCode(() => resource(podMetrics({ a: [{ cpu: "1m" }] }), []), "NoPods", /matches no pods/);
  });

  test("Utilization without a request on every container fails", () => {
    throwsCode(
      () => resource(podMetrics({ a: [{ cpu: "1m" }] }), [pod("a", { requests: [{ memory: "1Gi" }] })]),
      "MissingRequest",
    );
  });

  test("an unreadable usage fails, naming the pod", () => {
    throwsCode(
      () => resource(podMetrics({ a: [{ cpu: "lots" }] }), [pod("a")]),
      "BadMetricsResponse",
      /cpu usage of pod a: "lots" is not a quantity/,
    );
  });

  test("an unreadable window fails", () => {
    throwsCode(
      () => resource(podMetrics({ a: [{ cpu: "1m" }] }, ago(1), "soon"), [pod("a")]),
      "BadMetricsResponse",
    );
  });
});

describe("Pods metrics", () => {
  test("keep every sample, count ready pods, report missing ones; ignored_pods is always null", () => {
    const pods = [pod("b"), pod("a"), pod("c"), pod("pending", { phase: "Pending" })];
    const metric = podsMetric(metricValues({ b: "2", a: "1500m", pending: "3" }, "Pod", ago(10), 60), pods);
    const sample = (Value: number) => ({ Timestamp: "2024-01-01T11:59:50Z", Window: 60_000_000_000, Value });
    assert.deepEqual(metric, {
      pod_metrics_info: { a: sample(1500), b: sample(2000), pending: sample(3000) },
      ready_pod_count: 2,
      ignored_pods: null,
      missing_pods: { c: {} },
      total_pods: 4,
      timestamp: "2024-01-01T11:59:50Z",
    });
  });

  test("without windowSeconds a sample covers one minute", () => {
    const metric = podsMetric(metricValues({ a: "1" }, "Pod", ago(10), null), [pod("a")]);
    assert.equal(metric.pod_metrics_info?.["a"]?.Window, 60_000_000_000);
  });

  test("no pods: the maps are null, as the original left them", () => {
    assert.deepEqual(podsMetric(metricValues({ a: "1" }), []), {
      pod_metrics_info: null,
      ready_pod_count: 0,
      ignored_pods: null,
      missing_pods: null,
      total_pods: 0,
      timestamp: "2024-01-01T11:59:50Z",
    });
  });

  test("no values fail", () => {
    throwsCode(
      () => podsMetric({ items: [] }, [pod("a")]),
      "NoMetrics",
      /the custom metrics API returned no values/,
    );
  });
});

describe("Object metrics", () => {
  const pods = [pod("a"), pod("b", { ready: "False" })];

  test("Value: the value and the ready pods", () => {
    assert.equal(
      JSON.stringify(objectMetric(metricValues({ main: "2k" }, "Ingress"), "Value", pods)),
      '{"current":{"value":2000000},"ready_pod_count":1,"timestamp":"2024-01-01T11:59:50Z"}',
    );
  });

  test("AverageValue: the value as average_value, no ready pods", () => {
    assert.equal(
      JSON.stringify(objectMetric(metricValues({ main: "250m" }, "Ingress"), "AverageValue", [])),
      '{"current":{"average_value":250},"timestamp":"2024-01-01T11:59:50Z"}',
    );
  });

  test("anything but exactly one value fails", () => {
    throwsCode(
      () => objectMetric(metricValues({ a: "1", b: "2" }, "Ingress"), "Value", pods),
      "BadMetricsResponse",
      /returned 2 values for the object where it should return exactly one/,
    );
    throwsCode(() => objectMetric({ items: [] }, "Value", pods), "BadMetricsResponse");
  });
});

describe("External metrics", () => {
  const pods = [pod("a"), pod("b")];

  test("Value: the sum of every series, and the ready pods", () => {
    assert.deepEqual(externalMetric(externalValues(["10", "2500m", 1]), "Value", pods), {
      current: { value: 13_500 },
      ready_pod_count: 2,
      timestamp: "2024-01-01T11:59:50Z",
    });
  });

  test("AverageValue: the sum too (the evaluator divides), as average_value", () => {
    assert.equal(
      JSON.stringify(externalMetric(externalValues(["10", "20"]), "AverageValue", [])),
      '{"current":{"average_value":30000},"timestamp":"2024-01-01T11:59:50Z"}',
    );
  });

  test("no series fail", () => {
    throwsCode(() => externalMetric({ items: [] }, "Value", pods), "NoMetrics", /external metrics API/);
  });
});
