import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { misplacedPod, podSummary } from "./journey.ts";

const pod = (nodeName: string | undefined, status: V1Pod["status"] = {}): V1Pod => ({
  metadata: { name: "cpa-operator-1", namespace: "cpa-system" },
  spec: { containers: [{ name: "operator", image: "cpa:0.1.0" }], ...(nodeName ? { nodeName } : {}) },
  status,
});

test("a Pod bound to the fake node is named at once, with where it should be", () => {
  const message = misplacedPod([pod("cpa-local-node"), pod("kwok-node-0", { phase: "Running" })]);
  assert.ok(message);
  assert.match(message, /^Pod cpa-system\/cpa-operator-1: node kwok-node-0, phase Running/);
  assert.match(message, /Nothing runs Pods on kwok-node-0/);
  assert.match(message, /must be scheduled to cpa-local-node/);
});

test("Pods on the local node, or not scheduled yet, are where they should be", () => {
  assert.equal(misplacedPod([pod("cpa-local-node"), pod(undefined)]), undefined);
  assert.equal(misplacedPod([]), undefined);
});

test("a Pod's summary says its node, phase, container state and readiness", () => {
  const waiting = pod("cpa-local-node", {
    phase: "Running",
    conditions: [{ type: "Ready", status: "False" }],
    containerStatuses: [
      {
        name: "operator",
        image: "cpa:0.1.0",
        imageID: "",
        ready: false,
        restartCount: 2,
        state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 20s" } },
      },
    ],
  });
  assert.equal(
    podSummary(waiting),
    "Pod cpa-system/cpa-operator-1: node cpa-local-node, phase Running, container waiting (CrashLoopBackOff: back-off 20s), Ready False",
  );
  assert.equal(
    podSummary(pod(undefined)),
    "Pod cpa-system/cpa-operator-1: node (none yet), phase (none), container no container status, Ready Unknown",
  );
});
