// The local plane's image registry: Debian's docker-registry (the CNCF
// distribution registry), on 127.0.0.1 at a port of its own, storing under the
// plane's state. The local kubelet pulls from it (and from nowhere else); a user
// pushes there as to any registry: `podman push --tls-verify=false IMAGE
// 127.0.0.1:PORT/NAME:TAG` (plain HTTP, loopback only).
//
// The binary comes out of Debian's package with `apt-get download` and `dpkg -x`
// into .cache/bin: installing the package would start a system service on
// :5000, the port our autoscalers serve on.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binDir } from "./config.ts";

export const REGISTRY_PACKAGE = "docker-registry";
export const registryBinary = join(binDir, "docker-registry");

export type RegistryState = { address: string } | { unavailable: string };

export const hasRegistry = (r: RegistryState | undefined): r is { address: string } =>
  r !== undefined && "address" in r;

/** The registry's configuration: filesystem storage, HTTP on 127.0.0.1 only, deletes allowed. Pure. */
export function registryConfig(port: number, storage: string): string {
  return [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "",
  ].join("\n");
}

function run(command: string, args: string[], cwd?: string): { ok: boolean; out: string } {
  const res = spawnSync(command, args, { encoding: "utf8", ...(cwd ? { cwd } : {}) });
  if (res.error) return { ok: false, out: res.error.message };
  return { ok: res.status === 0, out: `${res.stdout}${res.stderr}`.trim() };
}

/**
 * The registry binary, fetched from Debian's package on first use; or why it
 * cannot be had here.
 */
export function ensureRegistryBinary(log: (line: string) => void): { unavailable: string } | undefined {
  if (existsSync(registryBinary)) return undefined;
  if (!run("apt-get", ["--version"]).ok || !run("dpkg-deb", ["--version"]).ok)
    return {
      unavailable: `no apt-get to fetch Debian's ${REGISTRY_PACKAGE} package with; put a distribution registry binary at ${registryBinary}`,
    };
  log(`Fetching the image registry from Debian's ${REGISTRY_PACKAGE} package (first use only)...`);
  mkdirSync(binDir, { recursive: true });
  const work = mkdtempSync(join(binDir, "registry-"));
  try {
    let got = run("apt-get", ["download", REGISTRY_PACKAGE], work);
    // A machine whose package lists were never fetched: fetch them once, as root can.
    if (!got.ok && process.getuid?.() === 0 && run("apt-get", ["update"]).ok)
      got = run("apt-get", ["download", REGISTRY_PACKAGE], work);
    if (!got.ok) return { unavailable: `apt-get download ${REGISTRY_PACKAGE} failed: ${got.out}` };
    const deb = spawnSync("sh", ["-c", "ls *.deb"], { cwd: work, encoding: "utf8" }).stdout.trim();
    const unpacked = run("dpkg-deb", ["-x", deb, "root"], work);
    if (!unpacked.ok) return { unavailable: `dpkg-deb -x ${deb} failed: ${unpacked.out}` };
    renameSync(join(work, "root", "usr", "bin", "docker-registry"), registryBinary);
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes the registry's configuration under `dir` and returns its path. */
export function writeRegistryConfig(dir: string, port: number): string {
  const storage = join(dir, "storage");
  mkdirSync(storage, { recursive: true });
  const file = join(dir, "config.yml");
  writeFileSync(file, registryConfig(port, storage));
  return file;
}
