import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { baseTargets, budArgs, buildNpmrc, OFFICIAL_NODE_IMAGE, platformArgs } from "./build.ts";
import { TEST_BASE_IMAGE } from "./test-base.ts";
import { containersConf, storageConf } from "./containers.ts";

describe("platformArgs", () => {
  test("another architecture: its own base for the target's stages, the host's for npm and tsc", () => {
    assert.deepEqual(platformArgs("arm64", "amd64", "test"), {
      NODE_IMAGE: `${TEST_BASE_IMAGE}-arm64`,
      BUILD_NODE_IMAGE: TEST_BASE_IMAGE,
      BUILDPLATFORM: "linux/amd64",
      TARGETPLATFORM: "linux/arm64",
    });
  });

  test("the official image is multi-arch: one name, the platform picks", () => {
    const args = platformArgs("arm64", "amd64", "official");
    assert.equal(args["NODE_IMAGE"], OFFICIAL_NODE_IMAGE);
    assert.equal(args["BUILD_NODE_IMAGE"], OFFICIAL_NODE_IMAGE);
  });

  test("the host's own: both platforms the same", () => {
    const args = platformArgs("amd64", "amd64", "test");
    assert.equal(args["NODE_IMAGE"], TEST_BASE_IMAGE);
    assert.equal(args["TARGETPLATFORM"], args["BUILDPLATFORM"]);
  });
});

describe("budArgs", () => {
  test("a target of the repository's Dockerfile, from a given base, with a build-only mount", () => {
    assert.deepEqual(
      budArgs({
        context: "/repo",
        target: "python",
        tag: "cpa-python:0.1.0",
        buildArgs: { NODE_IMAGE: "localhost/base:1" },
        volumes: [["/tmp/etc", "/usr/local/etc"]],
      }),
      [
        "bud",
        "--layers",
        "--isolation=chroot",
        "--network=host",
        "--pull=never",
        "--target=python",
        "--build-arg=NODE_IMAGE=localhost/base:1",
        "--volume=/tmp/etc:/usr/local/etc:ro",
        "--tag=cpa-python:0.1.0",
        "--tag=docker.io/library/cpa-python:0.1.0",
        "/repo",
      ],
    );
  });

  test("a user's Dockerfile elsewhere: just the file, the tag and the context", () => {
    assert.deepEqual(
      budArgs({ context: "/guide", tag: "app:latest", dockerfile: "/guide/Dockerfile" }).slice(-4),
      ["--tag=app:latest", "--tag=docker.io/library/app:latest", "--file=/guide/Dockerfile", "/guide"],
    );
  });

  test("a full name is the one tag", () => {
    const tags = budArgs({ context: "/c", tag: "127.0.0.1:5000/team/app:1" }).filter((a) =>
      a.startsWith("--tag="),
    );
    assert.deepEqual(tags, ["--tag=127.0.0.1:5000/team/app:1"]);
  });
});

describe("buildNpmrc", () => {
  test("points npm at the host's CA bundle only when there is one", () => {
    assert.match(buildNpmrc(true), /^cafile=\/usr\/local\/etc\/build-ca\.crt$/m);
    assert.doesNotMatch(buildNpmrc(false), /cafile/);
    assert.match(buildNpmrc(false), /^update-notifier=false$/m);
  });
});

describe("the container configuration", () => {
  test("runc with cgroupfs and no default ulimits, with the store under the given folder", () => {
    const conf = containersConf("/c");
    for (const line of [
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      "default_ulimits = []",
      'tmp_dir = "/c/run/libpod"',
      'network_config_dir = "/c/networks"',
    ])
      assert.ok(conf.split("\n").includes(line), line);
    assert.match(storageConf("/c"), /^graphroot = "\/c\/storage"$/m);
  });
});

describe("baseTargets", () => {
  test("the targets of ours a user's FROM lines name, by any spelling of the name; the hardened two otherwise", () => {
    assert.deepEqual(baseTargets("FROM cpa-python:0.1.0-dropin\nRUN pip install x\n"), ["python-dropin"]);
    assert.deepEqual(
      baseTargets("from docker.io/library/cpa:0.1.0 AS b\nFROM --platform=linux/amd64 cpa-python:0.1.0\n"),
      ["runtime", "python"],
    );
    assert.deepEqual(baseTargets("FROM python:3.13-slim\n"), ["runtime", "python"]);
  });
});

test("a release builds FROM the Dockerfile's own base, by its full name (a short one would find the local stand-in)", async () => {
  const { readFileSync } = await import("node:fs");
  const { fullImageName } = await import("../local-pods/image-ref.ts");
  const { OFFICIAL_NODE_IMAGE } = await import("./build.ts");
  const dockerfile = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8");
  const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? "";
  assert.equal(OFFICIAL_NODE_IMAGE, fullImageName(arg));
  assert.match(OFFICIAL_NODE_IMAGE, /^docker\.io\/library\/node:/);
});
