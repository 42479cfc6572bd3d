import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KubeObject } from "../kube/objects.ts";
import { keepFor } from "./cache.ts";

const metadata = {
  name: "scaler",
  namespace: "ns",
  uid: "u1",
  resourceVersion: "7",
  creationTimestamp: "2026-11-27T12:00:00Z",
  labels: { "app.kubernetes.io/managed-by": "custom-pod-autoscaler-operator" },
  annotations: { "v1.custompodautoscaler.com/pod-template-hash": "abc" },
  ownerReferences: [
    {
      apiVersion: "custompodautoscaler.com/v1",
      kind: "CustomPodAutoscaler",
      name: "scaler",
      uid: "c1",
      controller: true,
    },
  ],
  managedFields: [{ manager: "cpa-operator", fieldsV1: { "f:spec": {} } }],
};

describe("the operator's caches", () => {
  test("keep a Pod's identity, ownership, hash and health, and drop its spec and managedFields", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata,
      spec: { containers: [{ name: "c", image: "i", env: [{ name: "a", value: "b" }] }] },
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [{ name: "c", ready: true }],
        podIP: "10.0.0.1",
        qosClass: "BestEffort",
      },
    } as unknown as KubeObject;
    const { managedFields: _dropped, ...kept } = metadata;
    assert.deepEqual(keepFor("Pod")(pod), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: kept,
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [{ name: "c", ready: true }],
      },
    });
  });

  test("keep a Role's rules, a RoleBinding's roleRef and subjects, a CPA's spec and status", () => {
    const role = keepFor("Role")({
      metadata,
      rules: [{ verbs: ["get"] }],
    } as unknown as KubeObject) as Record<string, unknown>;
    assert.deepEqual(role["rules"], [{ verbs: ["get"] }]);
    const rb = keepFor("RoleBinding")({
      metadata,
      roleRef: { name: "r" },
      subjects: [{ name: "s" }],
    } as unknown as KubeObject) as Record<string, unknown>;
    assert.deepEqual([rb["roleRef"], rb["subjects"]], [{ name: "r" }, [{ name: "s" }]]);
    const cpa = keepFor("CustomPodAutoscaler")({
      metadata,
      spec: { a: 1 },
      status: { b: 2 },
    } as unknown as KubeObject) as Record<string, unknown>;
    assert.deepEqual([cpa["spec"], cpa["status"]], [{ a: 1 }, { b: 2 }]);
    const sa = keepFor("ServiceAccount")({
      metadata,
      secrets: [{ name: "t" }],
    } as unknown as KubeObject) as Record<string, unknown>;
    assert.equal(sa["secrets"], undefined);
  });
});
