// `npm run release -- --registry REG [--version V] [--out DIR]`: builds every
// image target (hack/image, as the tests do), pushes them to REG, and writes
// the release's assets into DIR (default .cache/release/V): the two bundles
// and the Helm chart with the operator's image pinned by digest, images.yaml,
// RELEASE_NOTES.md (the CHANGELOG's section) and SHA256SUMS. The version is
// package.json's: bump it (and CHANGELOG.md) first. Images are built FROM the
// Dockerfile's official Node image (pulled), or with --test-base FROM the local
// stand-in the tests use (never to be published), for amd64 and arm64: each
// target's images go out as one multi-arch manifest list, and the assets pin
// the list's digest. Another architecture than the machine's own builds by
// emulation (hack/image/platforms.ts; README, "Releases").
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { stringify } from "yaml";
import { clusterBundle, namespacedBundle } from "../bundles.ts";
import { buildImages, TARGETS } from "../image/build.ts";
import { mustTool } from "../image/containers.ts";
import { ImageError } from "../image/errors.ts";
import {
  ARCHES,
  archesToBuild,
  archTag,
  cannotBuild,
  hostArch,
  parseArches,
  type Arch,
} from "../image/platforms.ts";
import { fullImageName } from "../local-pods/image-ref.ts";
import { ensureHelm } from "../plane/build.ts";
import { cacheDir, repoRoot } from "../plane/config.ts";
import { PlaneError } from "../plane/errors.ts";
import {
  changelogSection,
  checksums,
  imagesList,
  pinned,
  releasedValues,
  releaseRefs,
  ReleaseError,
  repositoryOf,
  withOperatorImage,
  type Pushed,
} from "./assets.ts";

const log = (line: string): void => {
  process.stderr.write(`[release] ${line}\n`);
};

const USAGE = `usage: npm run release -- --registry REG [--version V] [--out DIR] [--arch LIST] [--test-base]
  --registry REG   where the images go: host[:port][/path], e.g. ghcr.io/my-org or 127.0.0.1:5000/cpa
  --version V      must be package.json's version (default: it)
  --out DIR        the assets' folder (default: .cache/release/V)
  --arch LIST      the architectures, e.g. amd64,arm64; each one must build here, or the release fails.
                   Default: ${ARCHES.join(",")} where this machine can build them (another than its own
                   needs emulation: sudo bash hack/enable-arm64.sh), else the machine's own, saying why
  --test-base      build FROM the local stand-in for the official Node image (hack/image/test-base.ts),
                   where Docker Hub is out of reach: for trying a release, never for publishing one`;

class UsageError extends Error {}

interface Options {
  registry: string;
  version: string;
  out: string;
  testBase: boolean;
  /** Given with --arch (each must build), or undefined for every one that can. */
  arches?: Arch[];
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      registry: { type: "string" },
      version: { type: "string" },
      out: { type: "string" },
      arch: { type: "string" },
      "test-base": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  if (!values.registry) throw new UsageError("--registry is required: where to push the images");
  const { version: packaged } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    version: string;
  };
  const version = values.version ?? packaged;
  if (version !== packaged)
    throw new UsageError(
      `--version ${version}: package.json says ${packaged}, and the images carry package.json's version; bump it (and CHANGELOG.md) first`,
    );
  return {
    registry: values.registry,
    version,
    out: resolve(values.out ?? join(cacheDir, "release", version)),
    testBase: values["test-base"],
    ...(values.arch !== undefined ? { arches: parseArches(values.arch) } : {}),
  };
}

/** A registry on this machine speaks plain HTTP (the plane's does); any other must have TLS. */
const local = (registry: string): boolean => /^(127\.0\.0\.1|localhost)(:\d+)?(\/|$)/.test(registry);

/**
 * One target's images, one per architecture, pushed as a manifest list under
 * `ref`: a node pulls its own architecture's from the one digest the assets pin.
 */
async function pushList(
  tag: string,
  arches: readonly Arch[],
  ref: string,
  insecure: boolean,
): Promise<Pushed> {
  const dir = mkdtempSync(join(tmpdir(), "cpa-release-"));
  const list = `localhost/cpa-release-list/${tag}`;
  try {
    const digestFile = join(dir, "digest");
    await mustTool("buildah", ["manifest", "rm", list]).catch(() => undefined);
    await mustTool("buildah", ["manifest", "create", list]);
    for (const arch of arches)
      await mustTool("buildah", [
        "manifest",
        "add",
        "--os=linux",
        `--arch=${arch}`,
        list,
        `containers-storage:${fullImageName(archTag(tag, arch, hostArch()))}`,
      ]);
    await mustTool("buildah", [
      "manifest",
      "push",
      "--all",
      ...(insecure ? ["--tls-verify=false"] : []),
      `--digestfile=${digestFile}`,
      list,
      `docker://${ref}`,
    ]);
    const digest = readFileSync(digestFile, "utf8").trim();
    const platforms = arches.map((a) => `linux/${a}`);
    log(`pushed ${ref} (${digest}; ${platforms.join(", ")})`);
    return { ref, digest, platforms };
  } finally {
    await mustTool("buildah", ["manifest", "rm", list]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const yamlFile = (header: string, objects: readonly object[]): string =>
  header + objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join("");

function packageChart(helm: string, out: string, version: string, operator: Pushed): string {
  const dir = mkdtempSync(join(tmpdir(), "cpa-release-chart-"));
  try {
    const chart = join(dir, "cpa");
    cpSync(join(repoRoot, "charts", "cpa"), chart, { recursive: true });
    const values = join(chart, "values.yaml");
    writeFileSync(
      values,
      releasedValues(readFileSync(values, "utf8"), repositoryOf(operator.ref), operator.digest),
    );
    const res = spawnSync(
      helm,
      ["package", chart, "--destination", out, "--version", version, "--app-version", version],
      {
        encoding: "utf8",
      },
    );
    if (res.status !== 0) throw new ReleaseError(`helm package failed: ${res.stderr || res.stdout}`);
    return `cpa-${version}.tgz`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(o: Options): Promise<void> {
  const notes = changelogSection(readFileSync(join(repoRoot, "CHANGELOG.md"), "utf8"), o.version);
  const helm = ensureHelm(log);
  const arches = archesToBuild(o.arches, cannotBuild, log);
  if (arches.length === 0) throw new ReleaseError("no architecture can be built on this machine");
  const targets = TARGETS.map((t) => t.target);
  // The host's first: its builds warm the layers the others' npm and tsc stages share.
  for (const arch of [...arches].sort((a) => (a === hostArch() ? -1 : 1)))
    await buildImages(log, targets, { base: o.testBase ? "test" : "official", arch });
  const refs = releaseRefs(
    o.registry,
    TARGETS.map((t) => t.tag),
  );
  const pushed: Pushed[] = [];
  for (const [tag, ref] of refs) pushed.push(await pushList(tag, arches, ref, local(o.registry)));
  const operator = pushed.find((p) => p.ref === refs.get(TARGETS[0].tag));
  if (!operator) throw new ReleaseError("the operator's image was not pushed");

  rmSync(o.out, { recursive: true, force: true });
  mkdirSync(o.out, { recursive: true });
  const header = `# cpa ${o.version}: the operator's image is ${pinned(operator)}.\n`;
  writeFileSync(
    join(o.out, "cluster.yaml"),
    yamlFile(header, withOperatorImage(clusterBundle(), pinned(operator))),
  );
  writeFileSync(
    join(o.out, "namespaced.yaml"),
    yamlFile(header, withOperatorImage(namespacedBundle(), pinned(operator))),
  );
  writeFileSync(join(o.out, "images.yaml"), imagesList(pushed));
  writeFileSync(join(o.out, "RELEASE_NOTES.md"), notes);
  packageChart(helm, o.out, o.version, operator);
  const files = new Map(readdirSync(o.out).map((f) => [f, readFileSync(join(o.out, f))]));
  writeFileSync(join(o.out, "SHA256SUMS"), checksums(files));
  log(`cpa ${o.version}: ${pushed.length} images in ${o.registry}; assets in ${o.out}:`);
  for (const f of [...files.keys(), "SHA256SUMS"].sort()) log(`  ${f}`);
}

try {
  await main(options(process.argv.slice(2)));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message ? `error: ${err.message}\n` : ""}${USAGE}\n`);
    process.exitCode = 2;
  } else if (err instanceof ReleaseError || err instanceof ImageError || err instanceof PlaneError) {
    log(`error: ${err.message}`);
    process.exitCode = 1;
  } else throw err;
}
