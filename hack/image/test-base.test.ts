import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot } from "../plane/config.ts";
import { bundledNpmVersion, mmdebstrapArgs, NODE_VERSION, TEST_BASE_IMAGE } from "./test-base.ts";

describe("bundledNpmVersion", () => {
  const changelog = [
    '<a id="26.2.0"></a>',
    "* **deps**: upgrade npm to 11.9.0",
    '<a id="26.1.0"></a>',
    "* **deps**: update undici to 7.1.0",
    '<a id="26.0.0"></a>',
    "* **deps**: upgrade npm to 11.8.0",
  ].join("\n");
  const cases: [string, string | undefined][] = [
    ["26.2.0", "11.9.0"],
    ["26.1.0", "11.8.0"],
    ["25.0.0", undefined],
  ];
  for (const [node, npm] of cases) {
    test(`Node ${node} bundles npm ${npm ?? "(unknown)"}`, () => {
      assert.equal(bundledNpmVersion(changelog, node), npm);
    });
  }

  test("finds the npm of the pinned Node in its own changelog", () => {
    const dir = join(
      repoRoot,
      "node_modules",
      "node",
      "node_modules",
      `node-${process.platform}-${process.arch}`,
    );
    assert.match(
      bundledNpmVersion(readFileSync(join(dir, "CHANGELOG.md"), "utf8"), NODE_VERSION) ?? "",
      /^\d+\.\d+\.\d+$/,
    );
  });
});

describe("mmdebstrapArgs", () => {
  const args = mmdebstrapArgs("trixie", "http://deb.debian.org/debian", "/tmp/rootfs.tar");

  test("makes a minbase trixie with libatomic1, from the main, updates and security suites", () => {
    assert.ok(args.includes("--variant=minbase"));
    assert.ok(args.includes("--include=libatomic1"));
    assert.deepEqual(args.slice(-5), [
      "trixie",
      "/tmp/rootfs.tar",
      "deb http://deb.debian.org/debian trixie main",
      "deb http://deb.debian.org/debian trixie-updates main",
      "deb http://deb.debian.org/debian-security trixie-security main",
    ]);
  });

  test("slims it as Debian's official slim images are: no docs but copyrights, no man pages, no locales, no apt caches", () => {
    for (const want of [
      "--dpkgopt=path-exclude=/usr/share/doc/*",
      "--dpkgopt=path-include=/usr/share/doc/*/copyright",
      "--dpkgopt=path-exclude=/usr/share/man/*",
      "--dpkgopt=path-exclude=/usr/share/locale/*",
      '--aptopt=Dir::Cache::pkgcache ""',
    ])
      assert.ok(args.includes(want), want);
    assert.ok(
      args.some(
        (a) => a.startsWith("--aptopt=DPkg::Post-Invoke") && a.includes("/var/cache/apt/archives/*.deb"),
      ),
    );
  });

  test("the test base is a local name for the pinned Node, never the official image's", () => {
    assert.equal(TEST_BASE_IMAGE, `localhost/cpa-test-base/node:${NODE_VERSION}-trixie-slim`);
  });
});
