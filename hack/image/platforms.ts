// The CPU architectures images are built for, and whether this machine can
// build one it is not: by emulation, Debian's qemu-user-static registered with
// the kernel's binfmt_misc (hack/enable-arm64.sh sets that up).
import { existsSync, readFileSync } from "node:fs";
import { ImageError } from "./errors.ts";

/** What the original ships, and so what a release builds: OCI's names for them. */
export const ARCHES = ["amd64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** Node's name for an architecture (process.arch, the npm packages' suffix). Pure. */
export function nodeArch(arch: Arch): string {
  return arch === "amd64" ? "x64" : "arm64";
}

/** The kernel's name for it (uname -m, binfmt_misc's qemu-<name>). Pure. */
export function kernelArch(arch: Arch): string {
  return arch === "amd64" ? "x86_64" : "aarch64";
}

/** The architecture this process runs on. */
export function hostArch(platform: string = process.arch): Arch {
  const arch = ARCHES.find((a) => nodeArch(a) === platform);
  if (!arch)
    throw new ImageError(`images are built for ${ARCHES.join(" and ")}; this machine is ${platform}`);
  return arch;
}

/** `--arch amd64,arm64` as a list: known names, each once, the host's first when it is there. Pure. */
export function parseArches(value: string): Arch[] {
  const names = value
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  const unknown = names.filter((n) => !(ARCHES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0)
    throw new ImageError(
      `--arch ${value}: expected a comma-separated list of ${ARCHES.join(", ")} (${unknown.length > 0 ? `not ${unknown.join(", ")}` : "none given"})`,
    );
  return ARCHES.filter((a) => names.includes(a));
}

/** What the kernel's binfmt_misc says about one handler. */
export interface Binfmt {
  /** /proc/sys/fs/binfmt_misc is mounted. */
  mounted: boolean;
  /** The handler's file, or undefined when it is not registered. */
  handler?: string;
}

/**
 * Why `arch` cannot be built or run here, or undefined when it can: the host's
 * own always can; another needs a qemu handler that is registered, enabled and
 * has the F flag (the kernel opens the interpreter once, so containers, which
 * cannot see the host's /usr, still run it). Pure.
 */
export function emulationProblem(arch: Arch, host: Arch, binfmt: Binfmt): string | undefined {
  if (arch === host) return undefined;
  const fix = "run `sudo bash hack/enable-arm64.sh` (Debian's qemu-user-static and binfmt-support)";
  const name = `qemu-${kernelArch(arch)}`;
  if (!binfmt.mounted)
    return `this ${host} machine cannot run ${arch} binaries: binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc; ${fix}`;
  if (binfmt.handler === undefined)
    return `this ${host} machine cannot run ${arch} binaries: no ${name} handler is registered with binfmt_misc; ${fix}`;
  if (!/^enabled$/m.test(binfmt.handler))
    return `the ${name} handler in /proc/sys/fs/binfmt_misc is disabled; ${fix}`;
  if (!/^flags:.*F/m.test(binfmt.handler))
    return `the ${name} handler in /proc/sys/fs/binfmt_misc lacks the F (fix binary) flag, so containers cannot reach its interpreter; ${fix}`;
  return undefined;
}

/** emulationProblem as this machine answers it. */
export function cannotBuild(arch: Arch): string | undefined {
  const dir = "/proc/sys/fs/binfmt_misc";
  const file = `${dir}/qemu-${kernelArch(arch)}`;
  return emulationProblem(arch, hostArch(), {
    mounted: existsSync(`${dir}/status`),
    ...(existsSync(file) ? { handler: readFileSync(file, "utf8") } : {}),
  });
}

/** The tag of an image built for `arch`: the plain tag for the host's, `tag-arch` for another. Pure. */
export function archTag(tag: string, arch: Arch, host: Arch): string {
  return arch === host ? tag : `${tag}-${arch}`;
}

/**
 * The architectures to build: those asked for, each of which must build here;
 * by default every one that can, with a line for each that cannot and why.
 */
export function archesToBuild(
  asked: readonly Arch[] | undefined,
  problem: (arch: Arch) => string | undefined,
  log: (line: string) => void,
): Arch[] {
  if (asked) {
    const refused = asked.flatMap((a) => {
      const why = problem(a);
      return why ? [`${a}: ${why}`] : [];
    });
    if (refused.length > 0)
      throw new ImageError(`cannot build every --arch asked for:\n  ${refused.join("\n  ")}`);
    return [...asked];
  }
  return ARCHES.filter((a) => {
    const why = problem(a);
    if (why) log(`not building ${a} (name it with --arch to make this an error): ${why}`);
    return why === undefined;
  });
}
