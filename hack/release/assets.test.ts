import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { clusterBundle } from "../bundles.ts";
import {
  changelogSection,
  checksums,
  imagesList,
  pinned,
  releasedValues,
  releaseRefs,
  repositoryOf,
  withOperatorImage,
} from "./assets.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("release assets", () => {
  test("images are pushed under the registry by their local tags, and named by digest", () => {
    const refs = releaseRefs("127.0.0.1:5000/cpa/", ["cpa:0.1.0", "cpa-python:0.1.0-dropin"]);
    assert.deepEqual(
      [...refs.values()],
      ["127.0.0.1:5000/cpa/cpa:0.1.0", "127.0.0.1:5000/cpa/cpa-python:0.1.0-dropin"],
    );
    assert.equal(repositoryOf("127.0.0.1:5000/cpa/cpa:0.1.0"), "127.0.0.1:5000/cpa/cpa");
    assert.equal(
      pinned({ ref: "ghcr.io/org/cpa:0.1.0", digest: DIGEST, platforms: ["linux/amd64"] }),
      `ghcr.io/org/cpa@${DIGEST}`,
    );
    assert.throws(
      () => releaseRefs("https://ghcr.io/org", ["cpa:0.1.0"]),
      /--registry https:\/\/ghcr\.io\/org: expected host/,
    );
  });

  test("the bundle's operator image is pinned, and nothing else changes", () => {
    const bundle = clusterBundle();
    const released = withOperatorImage(bundle, `r/cpa@${DIGEST}`);
    const text = JSON.stringify(released);
    assert.ok(text.includes(`"image":"r/cpa@${DIGEST}"`));
    assert.ok(!text.includes('"image":"cpa:0.1.0"'));
    assert.equal(JSON.stringify(released).replace(`r/cpa@${DIGEST}`, "cpa:0.1.0"), JSON.stringify(bundle));
  });

  test("the chart's values name the released repository and digest, comments kept", () => {
    const values =
      '# The operator\'s image.\nimage:\n  repository: cpa\n  tag: ""\n  digest: ""\n  pullPolicy: IfNotPresent\n';
    assert.equal(
      releasedValues(values, "r/cpa", DIGEST),
      `# The operator's image.\nimage:\n  repository: r/cpa\n  tag: ""\n  digest: ${DIGEST}\n  pullPolicy: IfNotPresent\n`,
    );
    assert.throws(() => releasedValues("image: {}\n", "r", DIGEST), /no line matching/);
  });

  test("the release notes are the version's CHANGELOG section; a version without one is refused", () => {
    const changelog =
      "# Changelog\n\n## [Unreleased]\n\n- next\n\n## [0.2.0]\n\n- two\n\n## [0.1.0]\n\n- one\n";
    assert.equal(changelogSection(changelog, "0.2.0"), "## [0.2.0]\n\n- two\n");
    assert.equal(changelogSection(changelog, "0.1.0"), "## [0.1.0]\n\n- one\n");
    assert.throws(() => changelogSection(changelog, "0.3.0"), /no "## \[0\.3\.0\]" section/);
  });

  test("SHA256SUMS is what sha256sum prints, sorted by name", () => {
    assert.equal(
      checksums(
        new Map([
          ["b.txt", "b"],
          ["a.txt", ""],
        ]),
      ),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.txt\n" +
        "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.txt\n",
    );
  });
});

test("npm run release refuses a missing registry and a version other than package.json's, before building anything", async () => {
  const { spawnSync } = await import("node:child_process");
  const main = new URL("./main.ts", import.meta.url).pathname;
  const none = spawnSync(process.execPath, [main], { encoding: "utf8" });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--registry is required/);
  const other = spawnSync(process.execPath, [main, "--registry", "r.example/x", "--version", "9.9.9"], {
    encoding: "utf8",
  });
  assert.equal(other.status, 2);
  assert.match(other.stderr, /--version 9\.9\.9: package\.json says \d+\.\d+\.\d+/);

  test("images.yaml names each image, its list's digest, the pinned reference and its platforms", () => {
    const list = parse(
      imagesList([
        { ref: "127.0.0.1:5000/cpa/cpa:0.1.0", digest: DIGEST, platforms: ["linux/amd64", "linux/arm64"] },
      ]),
    ) as unknown;
    assert.deepEqual(list, [
      {
        image: "127.0.0.1:5000/cpa/cpa:0.1.0",
        digest: DIGEST,
        pinned: `127.0.0.1:5000/cpa/cpa@${DIGEST}`,
        platforms: ["linux/amd64", "linux/arm64"],
      },
    ]);
  });
});
