import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KubeObject } from "../kube/objects.ts";
import { changedFields, controllerUid, cpaChangeMatters, differs } from "./ownership.ts";

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

describe("what differs", () => {
  const meta = {
    labels: { a: "1" },
    ownerReferences: [{ apiVersion: "x/v1", kind: "K", name: "k", uid: "u", controller: true }],
  };
  const obj = (extra: object): KubeObject => ({ metadata: meta, ...extra });

  test("only the labels we set, our controller reference and the compared fields", () => {
    const desired = obj({ rules: [{ verbs: ["get"] }], other: 1 });
    assert.deepEqual(differs(obj({ rules: [{ verbs: ["get"] }], other: 2 }), desired, ["rules"]), []);
    assert.deepEqual(differs(obj({ rules: [] }), desired, ["rules"]), ["rules"]);
    const bare = { metadata: { labels: { a: "1", extra: "x" } }, rules: [{ verbs: ["get"] }] } as KubeObject;
    assert.deepEqual(differs(bare, desired, ["rules"]), ["owner reference"]);
  });

  test("changedFields names each field whose content differs, in the order asked", () => {
    const live = obj({ roleRef: { name: "a" }, subjects: [1] });
    const desired = obj({ roleRef: { name: "b" }, subjects: [1] });
    assert.deepEqual(changedFields(live, desired, ["subjects", "roleRef"]), ["roleRef"]);
    assert.deepEqual(changedFields(live, obj({ subjects: [1] }), ["roleRef"]), ["roleRef"]);
  });
});
