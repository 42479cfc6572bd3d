import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../lib/fake-clock.ts";
import { createLogger } from "../lib/log.ts";
import { KubeApiError, type CallOptions, type KubeClient } from "../kube/http.ts";
import { Writer } from "../kube/writes.ts";
import type { CycleOutcome } from "./cycle.ts";
import { StatusReporter } from "./reporter.ts";

const log = createLogger("test", "silent");
const CPA_PATH = "/apis/custompodautoscaler.com/v1/namespaces/ns/custompodautoscalers/scaler";

/** The CPA's API, answering GETs and status patches, with a fault per verb the test can set. */
class FakeCpaApi implements KubeClient {
  readFault: number | undefined;
  writeFault: number | undefined;
  writes: { currentReplicas?: number }[] = [];

  request<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    if (method === "GET" && path === CPA_PATH) {
      if (this.readFault) return Promise.reject(new KubeApiError(method, path, this.readFault, undefined));
      return Promise.resolve({
        apiVersion: "custompodautoscaler.com/v1",
        kind: "CustomPodAutoscaler",
        metadata: { name: "scaler", namespace: "ns", uid: "u1", generation: 3 },
        spec: {},
      } as T);
    }
    if (method === "PATCH" && path === `${CPA_PATH}/status`) {
      if (this.writeFault) return Promise.reject(new KubeApiError(method, path, this.writeFault, undefined));
      this.writes.push((options.body as { status: { currentReplicas?: number } }).status);
      return Promise.resolve({} as T);
    }
    return Promise.reject(new Error(`unexpected ${method} ${path}`));
  }

  stream(): Promise<void> {
    return Promise.reject(new Error("no watches"));
  }
}

const outcome = (replicas: number): CycleOutcome =>
  ({
    target: { current: replicas },
    evaluation: { targetReplicas: replicas },
    decision: { replicas, scale: false, reason: "steady", trace: {} },
    scaled: false,
    metrics: null,
  }) as unknown as CycleOutcome;

const replicasWritten = (api: FakeCpaApi): (number | undefined)[] => api.writes.map((w) => w.currentReplicas);

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup() {
  const api = new FakeCpaApi();
  const clock = new FakeClock(Date.UTC(2026, 10, 27));
  const reporter = new StatusReporter({
    http: api,
    writer: new Writer(api, "cpa-autoscaler"),
    namespace: "ns",
    name: "scaler",
    events: { record: () => undefined },
    log,
    clock,
  });
  return { api, clock, reporter };
}

describe("StatusReporter", () => {
  test("a failed read at start is retried with backoff, and the status appears once the API answers", async () => {
    const { api, clock, reporter } = setup();
    api.readFault = 503;
    await reporter.init();
    await reporter.report({ outcome: outcome(3) }, new Date(clock.now()));
    assert.deepEqual(api.writes, []);
    api.readFault = undefined;
    clock.advance(60_000);
    await flush();
    assert.deepEqual(replicasWritten(api), [3]);
    reporter.close();
  });

  test("a 403 on write is retried until the Role allows it, then the latest status is written", async () => {
    const { api, clock, reporter } = setup();
    await reporter.init();
    api.writeFault = 403;
    await reporter.report({ outcome: outcome(2) }, new Date(clock.now()));
    await reporter.report({ outcome: outcome(4) }, new Date(clock.now()));
    clock.advance(10_000);
    await flush();
    assert.deepEqual(api.writes, []);
    api.writeFault = undefined;
    clock.advance(60_000);
    await flush();
    assert.deepEqual(replicasWritten(api), [4], "one write of the latest status, not one per missed run");
    // Up to date: a run that changes nothing writes nothing.
    await reporter.report({ outcome: outcome(4) }, new Date(clock.now()));
    assert.deepEqual(replicasWritten(api), [4]);
    reporter.close();
  });

  test("retries back off: a failing API is not called on every run", async () => {
    const { api, clock, reporter } = setup();
    await reporter.init();
    api.writeFault = 500;
    let attempts = 0;
    const request = api.request.bind(api);
    api.request = <T>(method: string, path: string, options?: CallOptions): Promise<T> => {
      if (method === "PATCH") attempts++;
      return request<T>(method, path, options);
    };
    for (let run = 0; run < 10; run++) {
      await reporter.report({ outcome: outcome(run) }, new Date(clock.now()));
      clock.advance(500);
      await flush();
    }
    assert.ok(attempts <= 4, `${attempts} writes in 5 s of failures`);
    reporter.close();
  });

  test("a CPA that is gone is not retried", async () => {
    const { api, clock, reporter } = setup();
    await reporter.init();
    api.writeFault = 404;
    await reporter.report({ outcome: outcome(2) }, new Date(clock.now()));
    assert.equal(clock.pending(), 0);
    reporter.close();
  });

  test("status.history: a new value is written with the run, times alone at most once a minute", async () => {
    const { api, clock, reporter } = setup();
    await reporter.init();
    assert.equal(reporter.startHistory, undefined);
    const history = (replicas: number[]) => ({
      target: "apps/v1/Deployment/web",
      recommendations: replicas.map((r, i) => ({ at: new Date(clock.now() + i).toISOString(), replicas: r })),
      scaleUpEvents: [],
      scaleDownEvents: [],
    });
    const run = async (replicas: number[]): Promise<void> => {
      await reporter.report({ outcome: outcome(5), history: history(replicas) }, new Date(clock.now()));
      clock.advance(15_000);
    };
    await run([5]);
    await run([5]);
    await run([5]);
    assert.equal(api.writes.length, 1, "the same values at later times wait");
    await run([5, 4]);
    assert.equal(api.writes.length, 2, "a new value is written at once");
    for (let i = 0; i < 4; i++) await run([5, 4]);
    assert.equal(api.writes.length, 3, "times alone, refreshed once TIME_ONLY_REFRESH_MS has passed");
    reporter.close();
  });
});
