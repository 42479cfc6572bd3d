import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { podHealth, RESTART_DAMPING_MS } from "./pod-health.ts";

const NOW = Date.parse("2026-11-27T12:00:00Z");
const ago = (ms: number): string => new Date(NOW - ms).toISOString();

function pod(phase: string, ready: boolean, ...containers: Partial<V1ContainerStatus>[]): V1Pod {
  return {
    metadata: { name: "scaler" },
    status: {
      phase,
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: containers.map((c) => ({
        name: "scaler",
        image: "scaler:1",
        imageID: "",
        ready,
        restartCount: 0,
        ...c,
      })),
    },
  };
}

const running = (startedMsAgo: number) => ({ running: { startedAt: ago(startedMsAgo) as unknown as Date } });

describe("podHealth", () => {
  test("a Pod whose containers run and are ready is running", () => {
    assert.deepEqual(podHealth(pod("Running", true, { state: running(60_000) }), NOW), { state: "running" });
  });

  test("a Pod not yet started is pending", () => {
    const p = pod("Pending", false, { state: { waiting: { reason: "ContainerCreating" } } });
    assert.equal(podHealth(p, NOW).state, "pending");
    assert.equal(podHealth({ metadata: { name: "x" }, status: { phase: "Pending" } }, NOW).state, "pending");
  });

  test("a crash-looping autoscaler is not ready, with the reason, restart count and last termination message", () => {
    const p = pod("Running", false, {
      restartCount: 4,
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" } },
      lastState: {
        terminated: { exitCode: 1, reason: "Error", message: "config.yaml: interval must be a number\n" },
      },
    });
    const health = podHealth(p, NOW);
    assert.equal(health.state, "not-ready");
    assert.equal(
      "message" in health && health.message,
      "The autoscaler Pod scaler is not ready: container scaler is waiting: CrashLoopBackOff " +
        "(back-off 40s restarting failed container); restarted 4 times; " +
        "last exit code 1 (Error): config.yaml: interval must be a number",
    );
  });

  test("an image that cannot be pulled is reported even while the Pod is Pending", () => {
    const p = pod("Pending", false, {
      state: { waiting: { reason: "ImagePullBackOff", message: "no such image" } },
    });
    const health = podHealth(p, NOW);
    assert.equal(health.state, "not-ready");
    assert.match("message" in health ? health.message : "", /waiting: ImagePullBackOff \(no such image\)/);
  });

  test("a running container that is not ready is not ready", () => {
    assert.equal(podHealth(pod("Running", false, { state: running(1000) }), NOW).state, "not-ready");
  });

  test("an autoscaler that restarted recently stays not ready until it has run long enough, then is running", () => {
    const restarted = (msAgo: number) =>
      pod("Running", true, {
        restartCount: 2,
        state: running(msAgo),
        lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } },
      });
    const settling = podHealth(restarted(60_000), NOW);
    assert.equal(settling.state, "settling");
    assert.equal("recheckInMs" in settling && settling.recheckInMs, RESTART_DAMPING_MS - 60_000);
    assert.match(
      "message" in settling ? settling.message : "",
      /restarted 2 times; last exit code 137 \(OOMKilled\)/,
    );
    assert.equal(podHealth(restarted(RESTART_DAMPING_MS), NOW).state, "running");
  });

  test("every container counts: a failing sidecar makes the autoscaler not ready", () => {
    const p = pod(
      "Running",
      false,
      { state: running(60_000) },
      {
        name: "sidecar",
        ready: false,
        state: { terminated: { exitCode: 2, reason: "Error" } },
      },
    );
    assert.match(
      (() => {
        const h = podHealth(p, NOW);
        return "message" in h ? h.message : "";
      })(),
      /container sidecar has terminated; last exit code 2 \(Error\)/,
    );
  });
  describe("init containers", () => {
    const init = (...statuses: Partial<V1ContainerStatus>[]): V1ContainerStatus[] =>
      statuses.map((c) => ({
        name: "setup",
        image: "setup:1",
        imageID: "",
        ready: false,
        restartCount: 0,
        ...c,
      }));
    const message = (h: ReturnType<typeof podHealth>): string => ("message" in h ? h.message : "");

    test("one that completed is fine: the Pod is running", () => {
      const p = pod("Running", true, { state: running(60_000) });
      (p.status ??= {}).initContainerStatuses = init({
        state: { terminated: { exitCode: 0, reason: "Completed" } },
      });
      assert.deepEqual(podHealth(p, NOW), { state: "running" });
    });

    test("while one runs, the Pod is initialising: pending, not not-ready", () => {
      const p = pod("Pending", false, { state: { waiting: { reason: "PodInitializing" } } });
      (p.status ??= {}).initContainerStatuses = init({ state: running(1000) });
      const h = podHealth(p, NOW);
      assert.equal(h.state, "pending");
      assert.match(message(h), /to initialise: init container setup is running/);
    });

    test("one that fails is reported with its exit code, reason and message", () => {
      const p = pod("Pending", false, { state: { waiting: { reason: "PodInitializing" } } });
      (p.status ??= {}).initContainerStatuses = init({
        restartCount: 3,
        state: {
          waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" },
        },
        lastState: { terminated: { exitCode: 1, reason: "Error", message: "cannot reach the database" } },
      });
      const h = podHealth(p, NOW);
      assert.equal(h.state, "not-ready");
      assert.match(
        message(h),
        /init container setup is waiting: CrashLoopBackOff \(back-off 40s restarting failed container\); restarted 3 times; last exit code 1 \(Error\): cannot reach the database/,
      );
      (p.status ??= {}).initContainerStatuses = init({
        state: { terminated: { exitCode: 2, reason: "Error" } },
      });
      assert.match(message(podHealth(p, NOW)), /init container setup failed with exit code 2 \(Error\)/);
    });

    test("a native sidecar (restartPolicy Always) counts as a container: it must run and be ready", () => {
      const p = pod("Running", false, { state: running(60_000) });
      p.spec = {
        containers: [{ name: "scaler" }],
        initContainers: [{ name: "setup", restartPolicy: "Always" }],
      };
      (p.status ??= {}).initContainerStatuses = init({ state: running(60_000), ready: false });
      assert.match(message(podHealth(p, NOW)), /container setup is running but not ready/);
    });
  });
});
