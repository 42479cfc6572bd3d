import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { fallbackMessage, podStatus, type ContainerRun } from "./pod-status.ts";

const pod = (policy?: string): V1Pod => ({
  metadata: { name: "scaler", namespace: "ns", uid: "u" },
  spec: {
    containers: [
      { name: "scaler", image: "scaler:1", ...(policy ? { terminationMessagePolicy: policy } : {}) },
      { name: "sidecar", image: "other:1" },
    ],
  },
});

interface Status {
  phase: string;
  conditions: { type: string; status: string }[];
  containerStatuses: {
    name: string;
    ready: boolean;
    restartCount: number;
    state: Record<string, Record<string, unknown>>;
    lastState?: { terminated: Record<string, unknown> };
  }[];
}

const status = (run: ContainerRun, policy?: string): Status =>
  podStatus(pod(policy), run, "2026-11-27T12:00:00Z") as Status;
const ready = (s: Status): string | undefined => s.conditions.find((c) => c.type === "Ready")?.status;
const crash = {
  exitCode: 1,
  startedAt: "t0",
  finishedAt: "t1",
  output: "starting\nconfig: interval is not a number\n",
};

describe("the local kubelet's Pod status", () => {
  test("a Pod whose container is being created is Pending and not ready", () => {
    const s = status({ state: "creating", restarts: 0 });
    assert.equal(s.phase, "Pending");
    assert.equal(ready(s), "False");
    assert.deepEqual(s.containerStatuses[0]?.state, { waiting: { reason: "ContainerCreating" } });
  });

  test("a running container makes the Pod Running and Ready", () => {
    const s = status({ state: "running", startedAt: "t2", restarts: 0 });
    assert.equal(s.phase, "Running");
    assert.equal(ready(s), "True");
    assert.deepEqual(s.containerStatuses[0]?.state, { running: { startedAt: "t2" } });
  });

  test("a crashed container waits in CrashLoopBackOff, with its restarts and last termination", () => {
    const s = status(
      { state: "waiting", reason: "CrashLoopBackOff", message: "back-off 2s", restarts: 2, last: crash },
      "FallbackToLogsOnError",
    );
    assert.equal(s.phase, "Running");
    assert.equal(ready(s), "False");
    const c = s.containerStatuses[0];
    assert.deepEqual(c?.state, { waiting: { reason: "CrashLoopBackOff", message: "back-off 2s" } });
    assert.equal(c.restartCount, 2);
    assert.deepEqual(c.lastState?.terminated, {
      exitCode: 1,
      reason: "Error",
      startedAt: "t0",
      finishedAt: "t1",
      message: "starting\nconfig: interval is not a number",
    });
  });

  test("the log is the termination message only with FallbackToLogsOnError and a failure", () => {
    const run: ContainerRun = {
      state: "waiting",
      reason: "CrashLoopBackOff",
      message: "",
      restarts: 1,
      last: crash,
    };
    assert.equal(status(run).containerStatuses[0]?.lastState?.terminated["message"], undefined);
    const ok = { ...crash, exitCode: 0 };
    const clean = status(
      { state: "waiting", reason: "CrashLoopBackOff", message: "", restarts: 1, last: ok },
      "FallbackToLogsOnError",
    );
    assert.equal(clean.containerStatuses[0]?.lastState?.terminated["message"], undefined);
    assert.equal(clean.containerStatuses[0]?.lastState?.terminated["reason"], "Completed");
  });

  test("a container that ends for good under restartPolicy Never fails the Pod", () => {
    const s = status({ state: "terminated", restarts: 0, last: crash });
    assert.equal(s.phase, "Failed");
    assert.equal(s.containerStatuses[0]?.state["terminated"]?.["exitCode"], 1);
  });

  test("the fallback message is the end of the log: at most 80 lines and 2048 bytes", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const message = fallbackMessage(lines);
    assert.equal(message.split("\n").length, 80);
    assert.ok(message.endsWith("line 99"));
    assert.equal(Buffer.byteLength(fallbackMessage("x".repeat(5000))), 2048);
  });
});

describe("a Pod's addresses", () => {
  test("its own on the Pod network, the node's as hostIP; in the list forms too", () => {
    const s = podStatus(pod(), { state: "running", startedAt: "t", restarts: 0 }, "t", {
      hostIP: "10.244.128.1",
      podIP: "10.244.128.7",
    }) as Record<string, unknown>;
    assert.equal(s["podIP"], "10.244.128.7");
    assert.deepEqual(s["podIPs"], [{ ip: "10.244.128.7" }]);
    assert.equal(s["hostIP"], "10.244.128.1");
    assert.deepEqual(s["hostIPs"], [{ ip: "10.244.128.1" }]);
  });
});
