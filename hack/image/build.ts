// Builds the Dockerfile's targets for real, with buildah, from the test base
// (test-base.ts), into the project's container store. The images get the tags
// the bundles and the guide use (cpa:0.1.0, cpa-python:0.1.0), so podman and the
// local kubelet run them by those names.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../plane/config.ts";
import { fullImageName } from "../local-pods/image-ref.ts";
import {
  PYTHON_DROPIN_IMAGE,
  PYTHON_IMAGE,
  RUNTIME_DROPIN_IMAGE,
  RUNTIME_IMAGE,
} from "../local-pods/images.ts";
import { mustTool } from "./containers.ts";
import { ImageError } from "./errors.ts";
import { archTag, cannotBuild, hostArch, type Arch } from "./platforms.ts";
import { DEBIAN_SUITE, ensureTestBase, NODE_VERSION, testBaseImage } from "./test-base.ts";
import { ensureTools } from "./tools.ts";

/** The Dockerfile's default base, by its full name: what a release builds FROM. */
export const OFFICIAL_NODE_IMAGE = `docker.io/library/node:${NODE_VERSION}-${DEBIAN_SUITE}-slim`;

export const TARGETS = [
  { target: "runtime", tag: RUNTIME_IMAGE },
  { target: "python", tag: PYTHON_IMAGE },
  { target: "runtime-dropin", tag: RUNTIME_DROPIN_IMAGE },
  { target: "python-dropin", tag: PYTHON_DROPIN_IMAGE },
] as const;
export type Target = (typeof TARGETS)[number]["target"];
/** The hardened flavour, which our docs and examples use: what is built unless asked otherwise. */
export const HARDENED: readonly Target[] = ["runtime", "python"];

/** The targets of ours a Dockerfile's FROM lines name; the hardened ones when it names none. Pure. */
export function baseTargets(dockerfile: string): Target[] {
  const froms = [...dockerfile.matchAll(/^\s*FROM\s+(?:--\S+\s+)*(\S+)/gim)].map((m) =>
    fullImageName(m[1] ?? ""),
  );
  const named = TARGETS.filter((t) => froms.includes(fullImageName(t.tag))).map((t) => t.target);
  return named.length > 0 ? named : [...HARDENED];
}

export interface BudOptions {
  context: string;
  tag: string;
  dockerfile?: string;
  target?: string;
  buildArgs?: Record<string, string>;
  /** host path → path in RUN steps, read-only; never committed to a layer. */
  volumes?: [string, string][];
  /** Whether buildah may pull a base it lacks (a release's official base); never by default. */
  pull?: "never" | "missing";
  /** The image's platform (linux/arm64), where it is not the host's. */
  platform?: string;
}

/** `buildah bud` as the tests run it: cached layers, no daemon, never a pull (no registry is reachable). */
export function budArgs(o: BudOptions): string[] {
  return [
    "bud",
    "--layers",
    "--isolation=chroot",
    "--network=host",
    `--pull=${o.pull ?? "never"}`,
    ...(o.platform ? [`--platform=${o.platform}`] : []),
    ...(o.target ? [`--target=${o.target}`] : []),
    ...Object.entries(o.buildArgs ?? {}).map(([name, value]) => `--build-arg=${name}=${value}`),
    ...(o.volumes ?? []).map(([from, to]) => `--volume=${from}:${to}:ro`),
    // The name the short tag stands for too (docker.io/library/cpa:0.1.0), as `kind load` stores it.
    ...[...new Set([o.tag, fullImageName(o.tag)])].map((t) => `--tag=${t}`),
    ...(o.dockerfile ? [`--file=${o.dockerfile}`] : []),
    o.context,
  ];
}

/** npm's global config (/usr/local/etc/npmrc) for the builds' `npm ci`. */
export function buildNpmrc(hasCa: boolean): string {
  return [
    ...(hasCa ? ["cafile=/usr/local/etc/build-ca.crt"] : []),
    "update-notifier=false",
    "fund=false",
    "audit=false",
    "",
  ].join("\n");
}

/**
 * This machine reaches the npm registry through an egress whose CA only the
 * host trusts. The builds' npm gets the host's bundle through a directory
 * bind-mounted over the base's empty /usr/local/etc during RUN steps: no layer
 * of any image, the test base included, ever holds it.
 */
function buildEtc(): string {
  const dir = mkdtempSync(join(tmpdir(), "cpa-build-etc-"));
  const bundles = ["/etc/ssl/certs/ca-certificates.crt", process.env["NODE_EXTRA_CA_CERTS"]]
    .filter((f): f is string => f !== undefined && f !== "" && existsSync(f))
    .filter((f, i, all) => all.indexOf(f) === i);
  if (bundles.length > 0)
    writeFileSync(join(dir, "build-ca.crt"), bundles.map((f) => readFileSync(f, "utf8")).join("\n"));
  writeFileSync(join(dir, "npmrc"), buildNpmrc(bundles.length > 0));
  return dir;
}

export interface BuiltImage {
  target: Target;
  arch: Arch;
  /** The tag it was built under: the target's, with `-arch` for another architecture's (archTag). */
  tag: string;
  seconds: number;
  bytes: number;
}

const NETWORK_HINT =
  "a cold build fetches from Debian's and npm's registries; without a network (a private network " +
  "namespace, say) only a build whose steps are all cached works: run `npm run image` with a network first";

/**
 * buildah 1.28 leaves a working container behind for a stage that is only a
 * FROM (our runtime target), which pins every old build of the image in the
 * store: remove the built image's working containers.
 */
async function removeWorkingContainers(tag: string): Promise<void> {
  const containers = JSON.parse((await mustTool("buildah", ["containers", "--json"])) || "[]") as
    { id: string; imagename: string }[] | null;
  const names = [tag, `localhost/${tag}`, fullImageName(tag)];
  const ids = (containers ?? []).filter((c) => names.includes(c.imagename)).map((c) => c.id);
  if (ids.length > 0) await mustTool("buildah", ["rm", ...ids]);
}

export async function imageBytes(tag: string): Promise<number> {
  return Number((await mustTool("podman", ["image", "inspect", "--format", "{{.Size}}", tag])).trim());
}

export interface BuildOptions {
  /**
   * "test" (the default): FROM the local stand-in for the official Node image
   * (test-base.ts), whose images must never be published. "official": FROM the
   * Dockerfile's own NODE_IMAGE, pulled from its registry, for releases.
   */
  base?: "test" | "official";
  /** The architecture to build for (default: this machine's); another needs emulation (platforms.ts). */
  arch?: Arch;
}

/**
 * The build arguments for one architecture. The stages that only run npm and
 * tsc build on the host's own base (BUILD_NODE_IMAGE at BUILDPLATFORM), since
 * their output is JavaScript (npm ci --ignore-scripts: nothing native), so
 * only the target's own stages run emulated. buildah 1.28 sets neither
 * platform argument itself. Pure.
 */
export function platformArgs(arch: Arch, host: Arch, base: "test" | "official"): Record<string, string> {
  const image = (a: Arch): string => (base === "official" ? OFFICIAL_NODE_IMAGE : testBaseImage(a));
  return {
    NODE_IMAGE: image(arch),
    BUILD_NODE_IMAGE: image(host),
    BUILDPLATFORM: `linux/${host}`,
    TARGETPLATFORM: `linux/${arch}`,
  };
}

/** Builds the Dockerfile's targets (default: the hardened two) and reports each one's time and size. */
export async function buildImages(
  log: (line: string) => void,
  targets: readonly Target[] = HARDENED,
  opts: BuildOptions = {},
): Promise<BuiltImage[]> {
  ensureTools(log);
  const official = opts.base === "official";
  const host = hostArch();
  const arch = opts.arch ?? host;
  const problem = cannotBuild(arch);
  if (problem) throw new ImageError(`cannot build ${arch} images: ${problem}`);
  if (!official) {
    await ensureTestBase(log, host);
    if (arch !== host) await ensureTestBase(log, arch);
  }
  const etc = buildEtc();
  const built: BuiltImage[] = [];
  try {
    for (const { target, tag: targetTag } of TARGETS.filter((t) => targets.includes(t.target))) {
      const started = Date.now();
      const tag = archTag(targetTag, arch, host);
      await mustTool(
        "buildah",
        budArgs({
          context: repoRoot,
          target,
          tag,
          // Fully qualified: a short name would resolve to the local stand-in, which shares its last part.
          buildArgs: platformArgs(arch, host, official ? "official" : "test"),
          volumes: [[etc, "/usr/local/etc"]],
          ...(arch !== host ? { platform: `linux/${arch}` } : {}),
          ...(official ? { pull: "missing" as const } : {}),
        }),
        { hint: NETWORK_HINT },
      );
      await removeWorkingContainers(tag);
      const image = {
        target,
        arch,
        tag,
        seconds: (Date.now() - started) / 1000,
        bytes: await imageBytes(tag),
      };
      log(
        `Built ${tag} (target ${target}, ${arch}) in ${image.seconds.toFixed(1)}s: ${megabytes(image.bytes)}`,
      );
      built.push(image);
    }
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
  return built;
}

/**
 * Builds a user's image from a Dockerfile in `dir` (FROM one of ours), as the
 * getting-started guide does. Its RUN steps reach the package registries as
 * ours do: npm and pip trust the host's CA bundle through files mounted for the
 * RUN steps only (pip reads /etc/pip.conf), never in a layer.
 */
export async function buildUserImage(tag: string, dir: string, dockerfile = "Dockerfile"): Promise<void> {
  const etc = buildEtc();
  try {
    const volumes: [string, string][] = [[etc, "/usr/local/etc"]];
    if (existsSync(join(etc, "build-ca.crt"))) {
      writeFileSync(join(etc, "pip.conf"), "[global]\ncert = /usr/local/etc/build-ca.crt\n");
      volumes.push([join(etc, "pip.conf"), "/etc/pip.conf"]);
    }
    await mustTool("buildah", budArgs({ context: dir, tag, dockerfile: join(dir, dockerfile), volumes }), {
      hint: NETWORK_HINT,
    });
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
  await removeWorkingContainers(tag);
}

export const megabytes = (bytes: number): string => `${Math.round(bytes / 1e6)} MB`;
