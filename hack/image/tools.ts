// The OCI tools that build and run the images, installed on first use the way
// the control plane is built on first use: with apt-get when we are root on
// Debian (as CI is), otherwise a message naming what to install. Only the
// package registries are reachable here, so these come from Debian's packages.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../plane/config.ts";
import { containersEnv } from "./containers.ts";
import { ImageError } from "./errors.ts";

export interface Tool {
  command: string;
  debianPackage: string;
  why: string;
  /** How it says its version, to tell it runs (default --version). */
  versionArgs?: readonly string[];
}

export const TOOLS: readonly Tool[] = [
  { command: "buildah", debianPackage: "buildah", why: "builds the Dockerfile, no daemon" },
  { command: "podman", debianPackage: "podman", why: "runs the images" },
  // crun, podman's other choice, refuses hybrid cgroup hierarchies like this machine's.
  { command: "runc", debianPackage: "runc", why: "the OCI runtime podman uses" },
  { command: "mmdebstrap", debianPackage: "mmdebstrap", why: "makes the Debian base the tests build on" },
];

/**
 * What the plane's Pod network needs (hack/plane/pod-network.ts): a bridge and
 * addresses, and the `kubernetes` Service's rule. A fresh Debian machine may
 * lack iptables until podman's dependencies bring it, which is too late for a
 * plane started first.
 */
export const NETWORK_TOOLS: readonly Tool[] = [
  { command: "ip", debianPackage: "iproute2", why: "the Pod network's bridge", versionArgs: ["-V"] },
  { command: "iptables", debianPackage: "iptables", why: "the Pod network's Service rule" },
];

export interface Host {
  root: boolean;
  /** apt-get is there to install with. */
  debian: boolean;
}

export type InstallPlan =
  { kind: "ready" } | { kind: "apt"; packages: string[] } | { kind: "manual"; message: string };

/** What to do about missing tools: nothing, apt-get, or tell the user. */
export function installPlan(missing: readonly Tool[], host: Host): InstallPlan {
  // The project's container store, and the runs' mounts and user switches, are root's.
  const asRoot = host.root ? "" : ", as root (the project's podman and buildah run as root)";
  if (missing.length === 0)
    return host.root
      ? { kind: "ready" }
      : { kind: "manual", message: `building and running the images needs root: run again${asRoot}.` };
  const packages = missing.map((t) => t.debianPackage);
  if (host.root && host.debian) return { kind: "apt", packages };
  const names = missing.map((t) => `${t.command} (${t.why})`).join(", ");
  const how = host.debian
    ? `apt-get install ${packages.join(" ")}`
    : `install ${packages.join(", ")} from your distribution (buildah >= 1.28, podman >= 4.3)`;
  return {
    kind: "manual",
    message: `missing ${names}: building the image and running it for real need them. Install them (${how}) and run again${asRoot}.`,
  };
}

function isRunnable(command: string, versionArgs: readonly string[] = ["--version"]): boolean {
  // With the configuration they will run with: podman fails on a CONTAINERS_CONF it cannot read.
  const res = spawnSync(command, versionArgs, { stdio: "ignore", env: containersEnv() });
  return res.error === undefined && res.status === 0;
}

export function missingTools(tools: readonly Tool[] = TOOLS): Tool[] {
  return tools.filter((t) => !isRunnable(t.command, t.versionArgs));
}

/**
 * Installs the Pod network's tools when they are missing and apt-get can (root
 * on Debian). Otherwise leaves it: the plane then says why it has no Pod network.
 */
export function ensureNetworkTools(log: (line: string) => void): void {
  const missing = missingTools(NETWORK_TOOLS);
  const host = thisHost();
  if (missing.length === 0 || !host.root || !host.debian) return;
  try {
    aptInstall(
      missing.map((t) => t.debianPackage),
      log,
    );
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    log(`Could not install the Pod network's tools: ${err.message}`);
  }
}

export function thisHost(): Host {
  return {
    root: process.getuid?.() === 0,
    debian: existsSync("/etc/debian_version") && isRunnable("apt-get"),
  };
}

/** Installs the missing tools if we can, or throws an ImageError that says what to install. */
export function ensureTools(log: (line: string) => void): void {
  const missing = missingTools();
  const plan = installPlan(missing, thisHost());
  switch (plan.kind) {
    case "ready":
      return;
    case "manual":
      throw new ImageError(plan.message);
    case "apt":
      aptInstall(plan.packages, log);
  }
  const still = missingTools();
  if (still.length > 0)
    throw new ImageError(
      `apt-get installed ${plan.packages.join(" ")}, yet ${still.map((t) => t.command).join(", ")} do not run`,
    );
}

function aptInstall(packages: string[], log: (line: string) => void): void {
  log(`Installing ${packages.join(", ")} with apt-get (first use only)...`);
  const started = Date.now();
  const logDir = join(cacheDir, "containers");
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, "apt.log");
  // flock serialises against another checkout's first use; DPkg::Lock::Timeout
  // waits for any other apt or dpkg run instead of failing on its lock.
  const apt = (args: string[]): void => {
    const fd = openSync(logFile, "a");
    const res = spawnSync(
      "flock",
      ["/var/lock/cpa-apt.lock", "apt-get", "-o", "DPkg::Lock::Timeout=600", ...args],
      {
        stdio: ["ignore", fd, fd],
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      },
    );
    closeSync(fd);
    if (res.error || res.status !== 0) {
      const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
      throw new ImageError(
        `apt-get ${args.join(" ")} failed (exit ${res.status ?? "?"}); the end of ${logFile}:\n${tail}`,
      );
    }
  };
  apt(["update"]);
  apt(["install", "-y", "--no-install-recommends", ...packages]);
  log(`Installed ${packages.join(", ")} in ${Math.round((Date.now() - started) / 1000)}s`);
}
