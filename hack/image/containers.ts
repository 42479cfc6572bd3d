// buildah and podman with the project's own configuration and storage, under
// .cache/containers, so nothing in /etc is changed and each checkout (and CI's
// clean clone) has a store of its own.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../plane/config.ts";
import { ImageError } from "./errors.ts";

export const containersDir = join(cacheDir, "containers");

/** containers.conf: what podman needs on this kind of machine. */
export function containersConf(dir: string): string {
  return [
    "# Written by hack/image/containers.ts.",
    "[containers]",
    "# Setting the default nofile/nproc limits fails here with EPERM; keep the caller's.",
    "default_ulimits = []",
    'log_driver = "k8s-file"',
    "[network]",
    "# CNI, as Debian's podman 4.3 uses it: our network files are CNI's (netavark would ignore them).",
    'network_backend = "cni"',
    "# The local plane's Pod networks (hack/plane/pod-network.ts): CNI files written there.",
    `network_config_dir = "${join(dir, "networks")}"`,
    "[engine]",
    "# crun refuses this machine's hybrid cgroups; runc with cgroupfs (no systemd) works.",
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `tmp_dir = "${join(dir, "run", "libpod")}"`,
    "",
  ].join("\n");
}

export function storageConf(dir: string): string {
  return [
    "# Written by hack/image/containers.ts.",
    "[storage]",
    'driver = "overlay"',
    `graphroot = "${join(dir, "storage")}"`,
    `runroot = "${join(dir, "run", "storage")}"`,
    "",
  ].join("\n");
}

/** No registry to search: short names (cpa:0.1.0, FROM cpa-python:0.1.0) resolve to local images. */
export const REGISTRIES_CONF = "# Written by hack/image/containers.ts.\nunqualified-search-registries = []\n";

function writeIfChanged(path: string, content: string): void {
  if (!existsSync(path) || readFileSync(path, "utf8") !== content) writeFileSync(path, content);
}

/** The environment buildah and podman run with: the project's configuration files, written here. */
export function containersEnv(dir = containersDir): NodeJS.ProcessEnv {
  mkdirSync(dir, { recursive: true });
  const files = {
    CONTAINERS_CONF: ["containers.conf", containersConf(dir)],
    CONTAINERS_STORAGE_CONF: ["storage.conf", storageConf(dir)],
    CONTAINERS_REGISTRIES_CONF: ["registries.conf", REGISTRIES_CONF],
  } as const;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, [file, content]] of Object.entries(files)) {
    const path = join(dir, file);
    writeIfChanged(path, content);
    env[name] = path;
  }
  return env;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs buildah or podman with the project's configuration; onLine sees its output as it comes. */
export function tool(
  command: "buildah" | "podman",
  args: string[],
  opts: { onLine?: (line: string) => void; cwd?: string } = {},
): Promise<ToolResult> {
  const child = spawn(command, args, {
    env: containersEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  const lines = (text: string): void => {
    if (!opts.onLine) return;
    const all = (partial + text).split("\n");
    partial = all.pop() ?? "";
    for (const line of all) opts.onLine(line);
  };
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    lines(d.toString());
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    lines(d.toString());
  });
  return new Promise((resolve, reject) => {
    child.on("error", (err) => {
      reject(new ImageError(`could not run ${command}: ${err.message}`));
    });
    child.on("close", (code) => {
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Like tool(), but a non-zero exit is an ImageError carrying the end of the output. */
export async function mustTool(
  command: "buildah" | "podman",
  args: string[],
  opts: { onLine?: (line: string) => void; cwd?: string; hint?: string } = {},
): Promise<string> {
  const res = await tool(command, args, opts);
  if (res.code !== 0) {
    const tail = `${res.stdout}${res.stderr}`.trimEnd().split("\n").slice(-25).join("\n");
    throw new ImageError(
      `${command} ${args.slice(0, 2).join(" ")} failed (exit ${res.code})${opts.hint ? `: ${opts.hint}` : ""}\n${tail}`,
    );
  }
  return res.stdout;
}

export async function imageExists(ref: string): Promise<boolean> {
  return (await tool("podman", ["image", "exists", ref])).code === 0;
}
