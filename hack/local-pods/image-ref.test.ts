import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  defaultPullPolicy,
  fullImageName,
  imageStep,
  pullBackOff,
  pullSource,
  registryOf,
} from "./image-ref.ts";

describe("fullImageName", () => {
  for (const [ref, full] of [
    ["cpa:0.1.0", "docker.io/library/cpa:0.1.0"],
    ["cpa", "docker.io/library/cpa:latest"],
    ["me/app", "docker.io/me/app:latest"],
    ["docker.io/me/app:1", "docker.io/me/app:1"],
    ["localhost/cpa:0.1.0", "localhost/cpa:0.1.0"],
    ["127.0.0.1:5000/cpa", "127.0.0.1:5000/cpa:latest"],
    ["registry.example.com/platform/cpa:0.1.0", "registry.example.com/platform/cpa:0.1.0"],
    ["ghcr.io/x/y@sha256:abc", "ghcr.io/x/y@sha256:abc"],
    ["localhost:5000/a/b:2", "localhost:5000/a/b:2"],
  ] as const)
    test(`${ref} is ${full}`, () => {
      assert.equal(fullImageName(ref), full);
    });
});

describe("registryOf", () => {
  test("docker.io unless the reference names a registry", () => {
    assert.equal(registryOf("cpa:0.1.0"), "docker.io");
    assert.equal(registryOf("me/app"), "docker.io");
    assert.equal(registryOf("127.0.0.1:5000/cpa"), "127.0.0.1:5000");
    assert.equal(registryOf("localhost/cpa"), "localhost");
  });
});

describe("defaultPullPolicy", () => {
  test("Always for :latest or no tag, IfNotPresent otherwise, as the apiserver defaults it", () => {
    assert.equal(defaultPullPolicy("x"), "Always");
    assert.equal(defaultPullPolicy("x:latest"), "Always");
    assert.equal(defaultPullPolicy("127.0.0.1:5000/x"), "Always");
    assert.equal(defaultPullPolicy("x:1.2"), "IfNotPresent");
    assert.equal(defaultPullPolicy("127.0.0.1:5000/x:1"), "IfNotPresent");
    assert.equal(defaultPullPolicy("x@sha256:abc"), "IfNotPresent");
  });
});

describe("imageStep", () => {
  test("Always pulls whether or not the image is there", () => {
    assert.deepEqual(imageStep("x", "Always", true), { kind: "pull" });
    assert.deepEqual(imageStep("x", "Always", false), { kind: "pull" });
  });
  test("IfNotPresent pulls only when absent", () => {
    assert.deepEqual(imageStep("x", "IfNotPresent", true), { kind: "use" });
    assert.deepEqual(imageStep("x", "IfNotPresent", false), { kind: "pull" });
  });
  test("Never uses the store or refuses with the kubelet's message", () => {
    assert.deepEqual(imageStep("x", "Never", true), { kind: "use" });
    assert.deepEqual(imageStep("x:1", "Never", false), {
      kind: "never",
      message: 'Container image "x:1" is not present with pull policy of Never',
    });
  });
  test("the back-off reason and message carry the pull's error", () => {
    assert.deepEqual(pullBackOff("x:1", "failed to pull image"), {
      reason: "ImagePullBackOff",
      message: 'Back-off pulling image "x:1": ErrImagePull: failed to pull image',
    });
  });
});

describe("pullSource", () => {
  test("the plane's registry for its own images and, as docker.io's mirror, for Docker Hub's; nothing else", () => {
    const reg = "127.0.0.1:5001";
    assert.equal(pullSource("127.0.0.1:5001/cpa:1", reg), "127.0.0.1:5001/cpa:1");
    assert.equal(
      pullSource("docker.io/library/zero-scaler:latest", reg),
      "127.0.0.1:5001/library/zero-scaler:latest",
    );
    assert.equal(pullSource("ghcr.io/x/y:1", reg), undefined);
    assert.equal(pullSource("docker.io/library/x:1", undefined), undefined);
  });
});
