// Leader election against a real apiserver: the Lease in the cluster is the
// evidence. Durations are short (2 s lease) so hand-overs happen within a test.
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { test, type TestContext } from "node:test";
import {
  CoordinationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1Lease,
} from "@kubernetes/client-node";
import { KubeHttp } from "../../src/kube/http.ts";
import { LeaderElector, type LeaderElectorOptions } from "../../src/kube/leader-election.ts";
import { adminConfig, eventually, testNamespace, tokenConfig } from "../support/kube.ts";

const LEASE_MS = 2000;
const RENEW_DEADLINE_MS = 1500;
const RETRY_MS = 300;
const LEASE_NAME = "cpa-leader";

const admin = adminConfig();
const coordination = admin.makeApiClient(CoordinationV1Api);

interface Candidate {
  identity: string;
  elector: LeaderElector;
  stop: AbortController;
  done: Promise<void>;
  leaders: string[];
  startedAt?: number;
  stoppedAt?: number;
  leadership?: AbortSignal;
}

/** Starts a candidate campaigning; the test's end stops it. */
function candidate(
  t: TestContext,
  namespace: string,
  identity: string,
  extra: Partial<LeaderElectorOptions> & { kc?: KubeConfig } = {},
): Candidate {
  const { kc = admin, ...options } = extra;
  const elector = new LeaderElector({
    http: new KubeHttp(kc),
    namespace,
    name: LEASE_NAME,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    ...options,
  });
  const stop = new AbortController();
  const c: Candidate = { identity, elector, stop, done: Promise.resolve(), leaders: [] };
  c.done = elector.run(
    {
      onStartedLeading(signal) {
        c.startedAt = Date.now();
        c.leadership = signal;
      },
      onStoppedLeading() {
        c.stoppedAt = Date.now();
      },
      onNewLeader(leader) {
        c.leaders.push(leader);
      },
    },
    stop.signal,
  );
  t.after(async () => {
    stop.abort();
    await c.done;
  });
  return c;
}

function readLease(namespace: string): Promise<V1Lease> {
  return coordination.readNamespacedLease({ name: LEASE_NAME, namespace });
}

function heldBy(namespace: string, identity: string): Promise<V1Lease> {
  return eventually(`the Lease to be held by ${identity}`, async () => {
    const lease = await readLease(namespace);
    return lease.spec?.holderIdentity === identity ? lease : undefined;
  });
}

/** MicroTimes arrive as strings although the client types them as Dates. */
function millis(time: unknown): number {
  if (typeof time === "string") return Date.parse(time);
  if (time instanceof Date) return time.getTime();
  return Number.NaN;
}

function microTimeText(time: unknown): string {
  return typeof time === "string" ? time : "";
}

test("of two candidates exactly one leads, and it keeps renewing the Lease", async (t) => {
  const namespace = await testNamespace(t);
  const candidates = [candidate(t, namespace, "a"), candidate(t, namespace, "b")];
  const leader = await eventually("a leader", () =>
    Promise.resolve(candidates.find((c) => c.elector.isLeader())),
  );
  const standby = candidates.find((c) => c !== leader);
  assert.ok(standby);

  const first = await readLease(namespace);
  assert.equal(first.spec?.holderIdentity, leader.identity);
  assert.equal(first.spec.leaseTransitions, 0);
  assert.equal(first.spec.leaseDurationSeconds, LEASE_MS / 1000);
  assert.match(microTimeText(first.spec.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

  // Past a whole lease duration the standby still must not take over.
  await delay(LEASE_MS + 500);
  const later = await readLease(namespace);
  assert.equal(later.spec?.holderIdentity, leader.identity);
  assert.equal(later.spec.leaseTransitions, 0);
  assert.ok(millis(later.spec.renewTime) > millis(first.spec.renewTime), "the leader renews the Lease");
  assert.deepEqual(
    candidates.filter((c) => c.elector.isLeader()).map((c) => c.identity),
    [leader.identity],
  );
  assert.equal(standby.startedAt, undefined);
  assert.deepEqual(standby.leaders, [leader.identity]);
});

test("a leader stopped gracefully releases the Lease and the standby takes over at once", async (t) => {
  const namespace = await testNamespace(t);
  const a = candidate(t, namespace, "a");
  await heldBy(namespace, "a");
  const b = candidate(t, namespace, "b");
  await delay(RETRY_MS * 2);

  const stoppedAt = Date.now();
  a.stop.abort();
  await a.done;
  assert.equal(a.elector.isLeader(), false);
  assert.equal(a.leadership?.aborted, true);
  assert.ok(a.stoppedAt !== undefined);
  const released = await readLease(namespace);
  assert.ok(
    ["", "b"].includes(released.spec?.holderIdentity ?? "?"),
    `the Lease is released, not held by ${released.spec?.holderIdentity}`,
  );

  const taken = await heldBy(namespace, "b");
  assert.ok(Date.now() - stoppedAt < LEASE_MS, "the standby did not wait out the lease duration");
  assert.equal(taken.spec?.leaseTransitions, 1);
  assert.equal(taken.spec.leaseDurationSeconds, LEASE_MS / 1000);
  // The Lease can show b a moment before b has read its own write's response.
  await eventually("b to know it leads", () => (b.elector.isLeader() ? true : undefined), 5_000);
});

test("a leader that stops without releasing is replaced only after the lease duration", async (t) => {
  const namespace = await testNamespace(t);
  const a = candidate(t, namespace, "a", { releaseOnCancel: false });
  await heldBy(namespace, "a");
  candidate(t, namespace, "b");
  await delay(RETRY_MS * 2);

  a.stop.abort();
  await a.done;
  const abandoned = await readLease(namespace);
  assert.equal(abandoned.spec?.holderIdentity, "a");

  const taken = await heldBy(namespace, "b");
  const waited = millis(taken.spec?.acquireTime) - millis(abandoned.spec.renewTime);
  assert.ok(waited >= LEASE_MS, `b took over ${waited} ms after a's last renewal, before the lease ran out`);
  assert.equal(taken.spec?.leaseTransitions, 1);
});

test("a leader whose renewals are refused steps down within the renew deadline before the standby takes over", async (t) => {
  const namespace = await testNamespace(t);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "elector" } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: "elector" },
      rules: [
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "elector" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "elector" },
      subjects: [{ kind: "ServiceAccount", name: "elector", namespace }],
    },
  });
  const request = await core.createNamespacedServiceAccountToken({
    name: "elector",
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = request.status?.token;
  assert.ok(token, "TokenRequest returned no token");

  const a = candidate(t, namespace, "a", { kc: tokenConfig(admin, token) });
  await heldBy(namespace, "a");
  const b = candidate(t, namespace, "b");
  await delay(RETRY_MS * 2);

  const revokedAt = Date.now();
  await rbac.deleteNamespacedRoleBinding({ name: "elector", namespace });
  await a.done;
  assert.ok(a.stoppedAt !== undefined);
  assert.equal(a.leadership?.aborted, true);
  assert.equal(a.elector.isLeader(), false);
  const steppedDown = a.stoppedAt - revokedAt;
  assert.ok(
    steppedDown <= RENEW_DEADLINE_MS + RETRY_MS + 500,
    `a stepped down ${steppedDown} ms after losing access`,
  );

  const taken = await heldBy(namespace, "b");
  assert.equal(taken.spec?.leaseTransitions, 1);
  assert.ok(b.startedAt !== undefined && b.startedAt >= a.stoppedAt, "b led only after a had stepped down");
});
