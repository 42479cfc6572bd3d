import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DELETION_COST_ANNOTATION, ownedByTarget, planDeletionCosts, type PodLike } from "./deletion-cost.ts";

const web = { kind: "Deployment", name: "web", group: "apps" };

/** A Pod of Deployment web's ReplicaSet web-abc12, or of another controller. */
function pod(name: string, opts: { owner?: string; hash?: string; cost?: string } = {}): PodLike {
  const hash = opts.hash ?? "abc12";
  return {
    metadata: {
      name,
      labels: { app: "web", "pod-template-hash": hash },
      ...(opts.cost !== undefined ? { annotations: { [DELETION_COST_ANNOTATION]: opts.cost } } : {}),
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: opts.owner ?? `web-${hash}`,
          uid: "u",
          controller: true,
        },
      ],
    },
  };
}

const pods = [pod("web-a"), pod("web-b"), pod("web-c"), pod("web-d")];
const plan = (over: Partial<Parameters<typeof planDeletionCosts>[0]>) =>
  planDeletionCosts({ target: web, pods, podsToRemove: [], current: 4, desired: 4, marked: [], ...over });

describe("ownedByTarget", () => {
  test("a Deployment's Pods are its ReplicaSet's, named after it and their pod-template-hash", () => {
    assert.equal(ownedByTarget(pod("web-a"), web), true);
    assert.equal(ownedByTarget(pod("x", { owner: "web-other-abc12" }), web), false);
    assert.equal(ownedByTarget(pod("x", { owner: "webabc12" }), web), false);
  });
  test("a ReplicaSet target owns its Pods by name", () => {
    const rs = { kind: "ReplicaSet", name: "web-abc12", group: "apps" };
    assert.equal(ownedByTarget(pod("web-a"), rs), true);
    assert.equal(ownedByTarget(pod("web-a", { owner: "other" }), rs), false);
  });
  test("an owner that is not the controller, or not an apps ReplicaSet, does not count", () => {
    const p = pod("web-a");
    const ref = structuredClone(p.metadata?.ownerReferences?.[0]);
    assert.ok(ref);
    const meta = { name: "web-a", labels: { "pod-template-hash": "abc12" } };
    assert.equal(
      ownedByTarget(
        {
          metadata: {
            ...meta,
            ownerReferences: [Object.assign(structuredClone(ref), { controller: false })],
          },
        },
        web,
      ),
      false,
    );
    assert.equal(
      ownedByTarget(
        {
          metadata: {
            ...meta,
            ownerReferences: [Object.assign(structuredClone(ref), { apiVersion: "example.com/v1" })],
          },
        },
        web,
      ),
      false,
    );
  });
});

describe("planDeletionCosts", () => {
  test("on a scale-down by n, the first n named Pods get -n..-1, the first lowest", () => {
    const p = plan({ podsToRemove: ["web-c", "web-a", "web-b"], desired: 2 });
    assert.deepEqual(p.changes, [
      { pod: "web-a", cost: "-1" },
      { pod: "web-c", cost: "-2" },
    ]);
    assert.deepEqual(p.marked, ["web-c", "web-a"]);
    assert.deepEqual(p.warnings, []);
  });

  test("no scale-down, no cost; Pods an earlier run marked are cleared", () => {
    const marked = [pod("web-a", { cost: "-1" }), pod("web-b"), pod("web-c", { cost: "5" })];
    const p = plan({ pods: marked, podsToRemove: ["web-a"], current: 3, desired: 3, marked: ["web-a"] });
    assert.deepEqual(p.changes, [{ pod: "web-a", cost: null }]);
    assert.deepEqual(p.marked, []);
  });

  test("a cost the user set on a Pod not marked by us is left alone", () => {
    const p = plan({ pods: [pod("web-a", { cost: "100" }), pod("web-b")], current: 2, desired: 2 });
    assert.deepEqual(p.changes, []);
  });

  test("a cost already in place is not written again", () => {
    const p = plan({
      pods: [pod("web-a", { cost: "-1" }), pod("web-b")],
      podsToRemove: ["web-a"],
      current: 2,
      desired: 1,
      marked: ["web-a"],
    });
    assert.deepEqual(p.changes, []);
    assert.deepEqual(p.marked, ["web-a"]);
  });

  test("a marked Pod not chosen this time is cleared while the new choice is set", () => {
    const p = plan({
      pods: [pod("web-a", { cost: "-1" }), pod("web-b")],
      podsToRemove: ["web-b"],
      current: 2,
      desired: 1,
      marked: ["web-a"],
    });
    assert.deepEqual(p.changes, [
      { pod: "web-a", cost: null },
      { pod: "web-b", cost: "-1" },
    ]);
  });

  test("names that are not the target's Pods, or twice, are warned about and skipped", () => {
    const foreign = pod("db-a", { owner: "db-xyz" });
    const p = plan({
      pods: [...pods, foreign],
      podsToRemove: ["gone", "db-a", "web-d", "web-d"],
      desired: 2,
    });
    assert.deepEqual(p.changes, [{ pod: "web-d", cost: "-1" }]);
    assert.deepEqual(p.warnings, [
      "podsToRemove names gone, which is not one of the target's Pods now",
      "podsToRemove names db-a, which the target's ReplicaSet does not own",
    ]);
  });

  test("a StatefulSet removes by ordinal: a warning, no cost", () => {
    const p = plan({
      target: { kind: "StatefulSet", name: "web", group: "apps" },
      podsToRemove: ["web-0"],
      desired: 3,
    });
    assert.deepEqual(p.changes, []);
    assert.match(
      p.warnings[0] ?? "",
      /ignored for a StatefulSet: it removes the Pods with the highest ordinals/,
    );
  });

  test("another kind (an Argo Rollout, a custom resource) is warned about", () => {
    const p = plan({
      target: { kind: "Rollout", name: "web", group: "argoproj.io" },
      podsToRemove: ["web-a"],
      desired: 3,
    });
    assert.deepEqual(p.changes, []);
    assert.match(
      p.warnings[0] ?? "",
      /ignored for a Rollout: only a Deployment's or ReplicaSet's Pods honour/,
    );
  });
});
