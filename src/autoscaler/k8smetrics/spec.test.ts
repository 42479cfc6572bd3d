import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KubernetesMetricError } from "./errors.ts";
import { describeSpec, parseMetricSpec } from "./spec.ts";

describe("reading a metric spec", () => {
  test("Resource", () => {
    assert.deepEqual(
      parseMetricSpec({
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
      }),
      { type: "Resource", resource: "cpu", target: "Utilization" },
    );
  });

  test("Pods, with its metric selector as a string", () => {
    assert.deepEqual(
      parseMetricSpec({
        type: "Pods",
        pods: {
          metric: { name: "packets", selector: { matchLabels: { verb: "GET" } } },
          target: { type: "AverageValue", averageValue: "1k" },
        },
      }),
      { type: "Pods", metric: "packets", metricSelector: "verb=GET" },
    );
  });

  test("Object", () => {
    assert.deepEqual(
      parseMetricSpec({
        type: "Object",
        object: {
          metric: { name: "requests-per-second" },
          describedObject: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main" },
          target: { type: "Value", value: "10k" },
        },
      }),
      {
        type: "Object",
        metric: "requests-per-second",
        metricSelector: "",
        target: "Value",
        describedObject: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main" },
      },
    );
  });

  test("External", () => {
    assert.deepEqual(
      parseMetricSpec({
        type: "External",
        external: {
          metric: { name: "queue_messages_ready", selector: { matchLabels: { queue: "orders" } } },
          target: { type: "AverageValue", averageValue: "30" },
        },
      }),
      {
        type: "External",
        metric: "queue_messages_ready",
        metricSelector: "queue=orders",
        target: "AverageValue",
      },
    );
  });

  const refused: [string, unknown, RegExp][] = [
    [
      "ContainerResource",
      { type: "ContainerResource", containerResource: { name: "cpu", container: "app" } },
      /ContainerResource metrics are not supported/,
    ],
    [
      "an unknown type",
      { type: "Custom" },
      /type must be one of Resource, Pods, Object, External, got "Custom"/,
    ],
    ["no type", {}, /got null/],
    ["not an object", "cpu", /must be an object/],
    ["Resource without its block", { type: "Resource" }, /resource is required/],
    [
      "Resource with a Value target",
      { type: "Resource", resource: { name: "cpu", target: { type: "Value" } } },
      /resource.target.type must be Utilization or AverageValue, got "Value"/,
    ],
    [
      "Pods with a Value target",
      { type: "Pods", pods: { metric: { name: "m" }, target: { type: "Value" } } },
      /pods.target.type must be AverageValue/,
    ],
    [
      "Object without describedObject",
      { type: "Object", object: { metric: { name: "m" }, target: { type: "Value" } } },
      /object.describedObject is required/,
    ],
    [
      "Object with a Utilization target",
      {
        type: "Object",
        object: {
          metric: { name: "m" },
          target: { type: "Utilization" },
          describedObject: { kind: "Ingress", name: "x" },
        },
      },
      /object.target.type must be Value or AverageValue/,
    ],
    [
      "External without a metric name",
      { type: "External", external: { metric: {}, target: { type: "Value" } } },
      /external.metric.name is required/,
    ],
    [
      "a bad metric selector",
      {
        type: "External",
        external: {
          metric: { name: "m", selector: { matchExpressions: [{ key: "a", operator: "Has" }] } },
          target: { type: "Value" },
        },
      },
      /external.metric.selector: .*"Has" is not a label selector operator/,
    ],
  ];
  for (const [name, spec, message] of refused) {
    test(`${name} is refused`, () => {
      assert.throws(
        () => parseMetricSpec(spec),
        (err: unknown) => {
          assert.ok(err instanceof KubernetesMetricError);
          assert.equal(err.code, "InvalidMetricSpec");
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});

describe("naming a spec in messages", () => {
  const cases: [unknown, string][] = [
    [{ type: "Resource", resource: { name: "cpu" } }, "Resource metric cpu"],
    [{ type: "Pods", pods: { metric: { name: "packets" } } }, "Pods metric packets"],
    [
      {
        type: "Object",
        object: { metric: { name: "hits" }, describedObject: { kind: "Ingress", name: "main" } },
      },
      "Object metric hits on Ingress main",
    ],
    [{ type: "External", external: { metric: { name: "queue" } } }, "External metric queue"],
    [{ type: "ContainerResource", containerResource: { name: "cpu" } }, "ContainerResource metric cpu"],
    [{ type: "Resource" }, "Resource metric"],
    ["nonsense", "untyped metric"],
  ];
  for (const [spec, expected] of cases) {
    test(expected, () => {
      assert.equal(describeSpec(spec), expected);
    });
  }
});
