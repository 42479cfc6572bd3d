// Makes the tests' stand-in for the official Node image (see
// test-base.Dockerfile): Debian trixie minbase from Debian's packages, the Node
// binary `npm ci` installed (the pinned devDependency), and npm from the npm
// registry at the version that Node release bundles. Built once per store.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir, repoRoot } from "../plane/config.ts";
import { imageExists, mustTool } from "./containers.ts";
import { ImageError } from "./errors.ts";

const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};

/** The Node the project pins, which the official image the Dockerfile names carries too. */
export const NODE_VERSION = pkg.devDependencies["node"] ?? "";
export const DEBIAN_SUITE = "trixie";
export const TEST_BASE_IMAGE = `localhost/cpa-test-base/node:${NODE_VERSION}-${DEBIAN_SUITE}-slim`;
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";

/**
 * The npm a Node release bundles: the newest "upgrade npm to X" in Node's
 * changelog at or below the release's own entry (the changelog runs newest first).
 */
export function bundledNpmVersion(changelog: string, nodeVersion: string): string | undefined {
  const start = changelog.indexOf(`<a id="${nodeVersion}"></a>`);
  if (start < 0) return undefined;
  return /\*\*deps\*\*: upgrade npm to (\d+\.\d+\.\d+)/.exec(changelog.slice(start))?.[1];
}

/**
 * mmdebstrap's arguments for a rootfs like Debian's official slim images: no
 * docs, man pages or locales (also for packages installed later, through
 * dpkg's config), and apt keeping no package caches or downloaded .debs.
 */
export function mmdebstrapArgs(suite: string, mirror: string, out: string): string[] {
  const excludes = ["doc", "man", "info", "locale", "groff", "linda", "lintian"].map(
    (dir) => `--dpkgopt=path-exclude=/usr/share/${dir}/*`,
  );
  const clean =
    "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";
  return [
    "--variant=minbase",
    "--mode=root",
    // Node's binary needs libatomic1, as the official image installs it.
    "--include=libatomic1",
    ...excludes,
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    '--aptopt=Dir::Cache::pkgcache ""',
    '--aptopt=Dir::Cache::srcpkgcache ""',
    '--aptopt=Acquire::Languages "none"',
    `--aptopt=DPkg::Post-Invoke { "${clean}"; }`,
    suite,
    out,
    `deb ${mirror} ${suite} main`,
    `deb ${mirror} ${suite}-updates main`,
    `deb ${mirror.replace(/\/debian$/, "/debian-security")} ${suite}-security main`,
  ];
}

/** The pinned Node's own directory (the `node` devDependency installs it per platform). */
function nodePackageDir(): string {
  const dir = join(
    repoRoot,
    "node_modules",
    "node",
    "node_modules",
    `node-${process.platform}-${process.arch}`,
  );
  if (!existsSync(join(dir, "bin", "node")))
    throw new ImageError(`the pinned Node is not installed at ${dir}: run \`npm ci\` first`);
  return dir;
}

function run(command: string, args: string[], what: string, cwd?: string): void {
  const res = spawnSync(command, args, { encoding: "utf8", ...(cwd ? { cwd } : {}) });
  if (res.error || res.status !== 0) {
    const out = `${res.stdout}${res.stderr}`.trimEnd().split("\n").slice(-20).join("\n");
    throw new ImageError(`${what} failed (${res.error?.message ?? `exit ${res.status ?? "?"}`}):\n${out}`);
  }
}

/** npm's package tarball, kept under .cache/image. */
function npmTarball(version: string): string {
  const dir = join(cacheDir, "image");
  const file = join(dir, `npm-${version}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  run("npm", ["pack", `npm@${version}`, "--pack-destination", dir, "--silent"], `npm pack npm@${version}`);
  if (!existsSync(file)) throw new ImageError(`npm pack npm@${version} did not write ${file}`);
  return file;
}

/** Builds TEST_BASE_IMAGE unless the store has it. Returns true when it built it. */
export async function ensureTestBase(log: (line: string) => void): Promise<boolean> {
  if (await imageExists(TEST_BASE_IMAGE)) return false;
  const started = Date.now();
  const nodeDir = nodePackageDir();
  const npmVersion = bundledNpmVersion(readFileSync(join(nodeDir, "CHANGELOG.md"), "utf8"), NODE_VERSION);
  if (!npmVersion)
    throw new ImageError(`cannot tell from Node ${NODE_VERSION}'s changelog which npm it bundles`);
  log(
    `Making the test base image ${TEST_BASE_IMAGE} (Debian ${DEBIAN_SUITE}, Node ${NODE_VERSION}, npm ${npmVersion}; first run only)...`,
  );
  const context = mkdtempSync(join(tmpdir(), "cpa-test-base-"));
  try {
    run(
      "mmdebstrap",
      mmdebstrapArgs(DEBIAN_SUITE, DEBIAN_MIRROR, join(context, "rootfs.tar")),
      `mmdebstrap ${DEBIAN_SUITE}`,
    );
    copyFileSync(join(nodeDir, "bin", "node"), join(context, "node"));
    mkdirSync(join(context, "npm"));
    run(
      "tar",
      ["-xzf", npmTarball(npmVersion), "-C", join(context, "npm"), "--strip-components=1"],
      "unpacking npm",
    );
    await mustTool("buildah", [
      "bud",
      "--isolation=chroot",
      "--network=host",
      "--pull=never",
      `--build-arg=NODE_VERSION=${NODE_VERSION}`,
      `--tag=${TEST_BASE_IMAGE}`,
      `--file=${join(repoRoot, "hack", "image", "test-base.Dockerfile")}`,
      context,
    ]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  log(`Made ${TEST_BASE_IMAGE} in ${Math.round((Date.now() - started) / 1000)}s`);
  return true;
}
