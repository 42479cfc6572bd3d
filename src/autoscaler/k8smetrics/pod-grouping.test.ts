import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KubernetesMetricError } from "./errors.ts";
import { fromMillis, parseTime } from "./go-time.ts";
import { countReadyPods, groupPods, podRequests, type Sample } from "./pod-grouping.ts";
import { ago, NOW, pod, type PodOptions } from "./test-fixtures.ts";

const windows = {
  now: fromMillis(NOW),
  cpuInitializationPeriodSeconds: 300,
  initialReadinessDelaySeconds: 30,
};

function sample(secondsAgo = 10, windowSeconds = 30): Sample {
  const timestamp = parseTime(ago(secondsAgo));
  assert.ok(timestamp !== undefined);
  return { timestamp, window: windowSeconds * 1_000_000_000, value: 100 };
}

type Group = "ready" | "ignored" | "missing" | "skipped";

function groupOf(options: PodOptions, resource: string, s: Sample | null): Group {
  const samples = new Map(s ? [["p", s]] : []);
  const groups = groupPods([pod("p", options)], samples, resource, windows);
  if (groups.ready === 1) return "ready";
  if (groups.ignored.has("p")) return "ignored";
  if (groups.missing.has("p")) return "missing";
  return "skipped";
}

describe("grouping the target's pods as the HPA does", () => {
  interface Case {
    name: string;
    pod: PodOptions;
    expected: Group;
    resource?: string;
    /** The pod's sample; null for none. Default: taken 10 s ago over 30 s. */
    sample?: Sample | null;
  }
  const cases: Case[] = [
    { name: "a deleted pod is skipped", pod: { deleted: true }, expected: "skipped" },
    { name: "a failed pod is skipped", pod: { phase: "Failed" }, expected: "skipped" },
    { name: "a pending pod is ignored, even with a sample", pod: { phase: "Pending" }, expected: "ignored" },
    { name: "a pod without a sample is missing", pod: {}, expected: "missing", sample: null },
    { name: "a ready pod long past its start counts", pod: {}, expected: "ready" },
    {
      name: "CPU: an unready pod within the initialisation period is ignored",
      pod: { startedAgo: 60, ready: "False", transitionAgo: 50 },
      expected: "ignored",
    },
    {
      name: "CPU: a pod ready within the initialisation period, its sample's window starting before it was ready, is ignored",
      pod: { startedAgo: 60, ready: "True", transitionAgo: 20 },
      expected: "ignored",
      sample: sample(10, 30),
    },
    {
      name: "CPU: a pod ready within the initialisation period, a full window since, counts",
      pod: { startedAgo: 120, ready: "True", transitionAgo: 100 },
      expected: "ready",
      sample: sample(10, 30),
    },
    {
      name: "CPU: an unready pod that was never ready (readiness last changed within the delay of its start) is ignored",
      pod: { startedAgo: 3600, ready: "False", transitionAgo: 3590 },
      expected: "ignored",
    },
    {
      name: "CPU: an unready pod past the initialisation period that was ready once counts",
      pod: { startedAgo: 3600, ready: "False", transitionAgo: 60 },
      expected: "ready",
    },
    { name: "CPU: a pod without a Ready condition is ignored", pod: { ready: null }, expected: "ignored" },
    { name: "CPU: a pod without a start time is ignored", pod: { startedAgo: null }, expected: "ignored" },
    {
      name: "memory: an unready pod within the initialisation period counts (readiness only matters for CPU)",
      pod: { startedAgo: 60, ready: "False", transitionAgo: 50 },
      expected: "ready",
      resource: "memory",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(
        groupOf(c.pod, c.resource ?? "cpu", c.sample === undefined ? sample() : c.sample),
        c.expected,
      );
    });
  }

  test("a mixed set counts each pod once", () => {
    const pods = [
      pod("ready"),
      pod("pending", { phase: "Pending" }),
      pod("gone", { deleted: true }),
      pod("no-sample"),
      pod("starting", { startedAgo: 10, ready: "False", transitionAgo: 10 }),
    ];
    const samples = new Map(["ready", "pending", "gone", "starting"].map((n) => [n, sample()]));
    const groups = groupPods(pods, samples, "cpu", windows);
    assert.equal(groups.ready, 1);
    assert.deepEqual([...groups.ignored].sort(), ["pending", "starting"]);
    assert.deepEqual([...groups.missing], ["no-sample"]);
  });
});

describe("ready pods (Object and External Value metrics)", () => {
  test("count the Running pods whose Ready condition is True", () => {
    const pods = [
      pod("a"),
      pod("b", { ready: "False" }),
      pod("c", { phase: "Pending", ready: "True" }),
      pod("d", { ready: null }),
      pod("e"),
    ];
    assert.equal(countReadyPods(pods), 2);
  });
});

describe("pod requests (Utilization)", () => {
  test("sum every container's request per pod, in milli-units", () => {
    const pods = [
      pod("a", { requests: [{ cpu: "100m" }, { cpu: "0.15" }] }),
      pod("b", { requests: [{ cpu: 1 }] }),
    ];
    assert.deepEqual(
      podRequests(pods, "cpu"),
      new Map([
        ["a", 250],
        ["b", 1000],
      ]),
    );
  });

  test("a container without a request fails with the pod, the container and what to do", () => {
    const pods = [pod("a", { requests: [{ cpu: "100m" }, { memory: "1Gi" }] })];
    assert.throws(
      () => podRequests(pods, "cpu"),
      (err: unknown) => {
        assert.ok(err instanceof KubernetesMetricError);
        assert.equal(err.code, "MissingRequest");
        assert.equal(
          err.message,
          "container c1 of pod a has no cpu request: a Utilization target needs resources.requests.cpu " +
            "on every container (or use an AverageValue target)",
        );
        return true;
      },
    );
  });
});
