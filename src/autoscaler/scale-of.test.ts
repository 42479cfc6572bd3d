import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResolvedResource } from "../kube/discovery.ts";
import { scaleFromObject } from "./scale-of.ts";

const resource = (group: string, name: string): ResolvedResource => ({
  group,
  version: "v1",
  resource: name,
  kind: "K",
  namespaced: true,
  scalable: true,
});

test("a Deployment's /scale is read from the object: spec.replicas, and the selector as /scale renders it", () => {
  const deployment = {
    spec: {
      replicas: 3,
      selector: {
        matchLabels: { tier: "web", app: "shop" },
        matchExpressions: [{ key: "env", operator: "In", values: ["prod", "dev"] }],
      },
    },
  };
  assert.deepEqual(scaleFromObject(resource("apps", "deployments"), deployment), {
    current: 3,
    selector: "app=shop,env in (dev,prod),tier=web",
  });
});

test("a ReplicationController's plain selector map reads as matchLabels", () => {
  const rc = { spec: { replicas: 0, selector: { b: "2", a: "1" } } };
  assert.deepEqual(scaleFromObject(resource("", "replicationcontrollers"), rc), {
    current: 0,
    selector: "a=1,b=2",
  });
});

test("other kinds (custom resources map /scale through their CRD) are read through /scale", () => {
  const rollout = { spec: { replicas: 2, selector: { matchLabels: { app: "x" } } } };
  assert.equal(scaleFromObject(resource("argoproj.io", "rollouts"), rollout), undefined);
  assert.equal(
    scaleFromObject(resource("apps", "deployments"), { spec: {} }),
    undefined,
    "no replicas: ask /scale",
  );
});
