import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resolveScaleTarget } from "../operator/target.ts";
import { Discovery, REFRESH_AFTER_MS, UnresolvedKindError } from "./discovery.ts";
import { KubeApiError, type KubeClient } from "./http.ts";

/** Discovery documents by path; anything else is a 404. Counts the GETs. */
class FakeDiscovery implements KubeClient {
  readonly docs = new Map<string, unknown>();
  readonly gets: string[] = [];

  request<T>(method: string, path: string): Promise<T> {
    this.gets.push(path);
    const doc = this.docs.get(path);
    if (doc === undefined) return Promise.reject(new KubeApiError(method, path, 404, { reason: "NotFound" }));
    return Promise.resolve(structuredClone(doc) as T);
  }

  stream(): Promise<void> {
    return Promise.reject(new Error("no watches"));
  }
}

const resources = (groupVersion: string, ...names: [name: string, kind: string][]) => ({
  groupVersion,
  resources: names.map(([name, kind]) => ({ name, kind, namespaced: true })),
});

function cluster(): FakeDiscovery {
  const api = new FakeDiscovery();
  api.docs.set("/api/v1", resources("v1", ["replicationcontrollers", "ReplicationController"]));
  api.docs.set("/apis", {
    groups: [
      // Listed first: discovery's first match for a bare "Deployment" would be this one.
      { name: "example.com", preferredVersion: { groupVersion: "example.com/v1" }, versions: [] },
      { name: "apps", preferredVersion: { groupVersion: "apps/v1" }, versions: [] },
    ],
  });
  api.docs.set(
    "/apis/apps/v1",
    resources("apps/v1", ["deployments", "Deployment"], ["deployments/scale", "Scale"]),
  );
  api.docs.set(
    "/apis/example.com/v1",
    resources("example.com/v1", ["deployments", "Deployment"], ["widgets", "Widget"]),
  );
  // What /apis/apps answers: an APIGroup, not a list of resources.
  api.docs.set("/apis/apps", { kind: "APIGroup", name: "apps", versions: [{ groupVersion: "apps/v1" }] });
  return api;
}

describe("Discovery", () => {
  test("a kind that gains /scale later is scalable once discovery looks again, at most every 10 s", async () => {
    const api = cluster();
    let now = 0;
    const discovery = new Discovery(api, () => now);
    assert.equal((await discovery.resolve("example.com/v1", "Widget")).scalable, false);
    api.docs.set(
      "/apis/example.com/v1",
      resources("example.com/v1", ["widgets", "Widget"], ["widgets/scale", "Scale"]),
    );
    now += REFRESH_AFTER_MS - 1;
    const before = api.gets.length;
    assert.equal((await discovery.resolve("example.com/v1", "Widget")).scalable, false);
    assert.equal(api.gets.length, before, "no second fetch within the refresh interval");
    now += 1;
    assert.equal((await discovery.resolve("example.com/v1", "Widget")).scalable, true);
  });

  test("an apiVersion that is not group/version is refused, naming it, and never fetched", async () => {
    const api = cluster();
    const discovery = new Discovery(api);
    await assert.rejects(discovery.resolve("apps", "ReplicationController"), (err: unknown) => {
      assert.ok(err instanceof UnresolvedKindError);
      assert.match(err.message, /apiVersion "apps" is not group\/version/);
      return true;
    });
    assert.deepEqual(api.gets, []);
  });

  test("a path that answers something other than a resource list serves no kinds", async () => {
    const api = cluster();
    api.docs.set("/apis/apps/v1", { kind: "APIGroup", name: "apps" });
    await assert.rejects(new Discovery(api).resolve("apps/v1", "Deployment"), UnresolvedKindError);
  });
});

describe("the operator's target, resolved as the admission policy does", () => {
  test("without an apiVersion a built-in kind resolves to its own group, whatever else serves the kind", async () => {
    const target = await resolveScaleTarget(new Discovery(cluster()), undefined, "Deployment");
    assert.deepEqual([target.group, target.version, target.resource], ["apps", "v1", "deployments"]);
    const core = await resolveScaleTarget(new Discovery(cluster()), "", "ReplicationController");
    assert.deepEqual([core.group, core.version], ["", "v1"]);
  });

  test("without an apiVersion any other kind is refused, saying to set it", async () => {
    await assert.rejects(
      resolveScaleTarget(new Discovery(cluster()), undefined, "Widget"),
      (err: unknown) => {
        assert.ok(err instanceof UnresolvedKindError);
        assert.match(err.message, /kind Widget has no apiVersion.*set spec\.scaleTargetRef\.apiVersion/);
        return true;
      },
    );
  });
});
