import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KubeObject } from "../kube/objects.ts";
import { controllerUid, cpaChangeMatters } from "./ownership.ts";

type Meta = Record<string, unknown>;
const cpa = (metadata: Meta, status?: object): KubeObject =>
  ({ metadata: { name: "c", namespace: "ns", uid: "u1", generation: 1, ...metadata }, status }) as KubeObject;

describe("which CPA changes matter", () => {
  test("a status-only change (a new resourceVersion, the same generation) does not", () => {
    assert.equal(
      cpaChangeMatters(cpa({ resourceVersion: "1" }), cpa({ resourceVersion: "2" }, { desiredReplicas: 3 })),
      false,
    );
  });

  test("the spec (generation), labels, annotations, deletion and a new object of the name do", () => {
    const base = cpa({ labels: { a: "1" }, annotations: { n: "x" } });
    const changes: Meta[] = [
      { generation: 2 },
      { labels: { a: "2" } },
      { labels: {} },
      { annotations: { n: "y" } },
      { deletionTimestamp: new Date(0) },
      { uid: "u2" },
    ];
    for (const change of changes) {
      const next = cpa({ labels: { a: "1" }, annotations: { n: "x" }, ...change });
      assert.equal(cpaChangeMatters(base, next), true, JSON.stringify(change));
    }
  });

  test("the order of labels is no change", () => {
    assert.equal(
      cpaChangeMatters(cpa({ labels: { a: "1", b: "2" } }), cpa({ labels: { b: "2", a: "1" } })),
      false,
    );
  });
});

describe("the controller index", () => {
  test("an object is found under its controller's uid only", () => {
    const owned: KubeObject = {
      metadata: {
        ownerReferences: [
          { apiVersion: "v1", kind: "X", name: "x", uid: "other" },
          {
            apiVersion: "custompodautoscaler.com/v1",
            kind: "CustomPodAutoscaler",
            name: "c",
            uid: "u1",
            controller: true,
          },
        ],
      },
    };
    assert.deepEqual(controllerUid(owned), ["u1"]);
    assert.deepEqual(controllerUid({ metadata: {} }), []);
  });
});
