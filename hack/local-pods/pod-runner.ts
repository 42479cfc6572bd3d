// Runs a Pod whose image is ours as a local process, as the kubelet would run
// its container: the container's command/args and env exactly as in the Pod
// spec, the files the image would hold at their absolute paths, and in-cluster
// credentials for the Pod's ServiceAccount (a TokenRequest token and CA at
// /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT).
// Files are bind-mounted in a private mount namespace (unshare -m), so the host
// only ever gets empty placeholders at those paths; that needs root (or
// CAP_SYS_ADMIN), which `requireMountPrivilege` checks up front.
//
// Used by `npm run demo` and the end-to-end tests (through the LocalKubelet),
// and directly by integration tests.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Container, type V1Pod } from "@kubernetes/client-node";

const repoRoot = join(import.meta.dirname, "..", "..");
export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Absolute path in the image → content, e.g. { "/metric.py": "..." }. */
export type ImageFiles = Record<string, string>;

/** The image's default command: `cpa autoscaler` (the Dockerfile's ENTRYPOINT and CMD). */
const IMAGE_ENTRYPOINT = ["cpa"];
const IMAGE_CMD = ["autoscaler"];

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface Credentials {
  token: string;
  ca: Buffer;
  namespace: string;
  server: URL;
}

/** What the kubelet would mount for the Pod's ServiceAccount: a fresh TokenRequest token and the CA. */
export async function podCredentials(admin: KubeConfig, pod: V1Pod): Promise<Credentials> {
  const namespace = pod.metadata?.namespace ?? "default";
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: pod.spec?.serviceAccountName ?? "default",
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster?.caData || !token.status?.token) throw new Error("cannot build in-cluster credentials");
  return {
    token: token.status.token,
    ca: Buffer.from(cluster.caData, "base64"),
    namespace,
    server: new URL(cluster.server),
  };
}

/**
 * Writes the image files and the ServiceAccount directory under `staging` and
 * returns the bind mounts (staged path → path in the image) that put them in place.
 */
function stageFiles(staging: string, files: ImageFiles, creds: Credentials): [string, string][] {
  const mounts: [string, string][] = [];
  for (const [path, content] of Object.entries(files)) {
    const local = join(staging, "files", path);
    mkdirSync(dirname(local), { recursive: true });
    writeFileSync(local, content);
    mounts.push([local, path]);
  }
  const saLocal = join(staging, "serviceaccount");
  mkdirSync(saLocal);
  writeFileSync(join(saLocal, "token"), creds.token);
  writeFileSync(join(saLocal, "ca.crt"), creds.ca);
  writeFileSync(join(saLocal, "namespace"), creds.namespace);
  // Bind mounts need something to mount over: empty placeholders on the host.
  for (const [, path] of mounts) {
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) closeSync(openSync(path, "a"));
  }
  mkdirSync(SA_DIR, { recursive: true });
  mounts.push([saLocal, SA_DIR]);
  return mounts;
}

/** A bin directory with `cpa` (the image's entrypoint) and `python` (as the python image has it). */
function stageBin(staging: string): string {
  const binDir = join(staging, "bin");
  mkdirSync(binDir);
  writeFileSync(join(binDir, "cpa"), `#!/bin/sh\nexec ${shellQuote(join(repoRoot, "bin", "cpa"))} "$@"\n`, {
    mode: 0o755,
  });
  writeFileSync(join(binDir, "python"), '#!/bin/sh\nexec python3 "$@"\n', { mode: 0o755 });
  return binDir;
}

function containerEnv(
  pod: V1Pod,
  container: V1Container,
  binDir: string,
  creds: Credentials,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `${binDir}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
    HOME: dirname(binDir),
    KUBERNETES_SERVICE_HOST: creds.server.hostname,
    KUBERNETES_SERVICE_PORT: creds.server.port || "443",
    HOSTNAME: pod.metadata?.name ?? "pod",
  };
  for (const e of container.env ?? []) {
    const value = e.value ?? fieldRef(pod, e.valueFrom?.fieldRef?.fieldPath);
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

/** The downward API fields a kubelet would resolve for env vars. */
export function fieldRef(pod: V1Pod, path: string | undefined): string | undefined {
  switch (path) {
    case "metadata.name":
      return pod.metadata?.name;
    case "metadata.namespace":
      return pod.metadata?.namespace;
    case "metadata.uid":
      return pod.metadata?.uid;
    case "spec.nodeName":
      return pod.spec?.nodeName;
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName;
    case "status.podIP":
      return pod.status?.podIP;
    default:
      return undefined;
  }
}

export interface LocalProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output: () => string;
  /** Signals it (SIGTERM by default) and resolves with its exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

export interface RunOptions {
  /** Called with each complete line the process prints, and which stream it came on. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** The Pod's own network and address; without it, the Pod shares the host's. */
  network?: { name: string; ip: string } | undefined;
  /** The image's full name (image-ref.ts), which the runtime looks up. */
  image?: string | undefined;
}

/**
 * Feeds a child's stdout and stderr to opts.onLine, line by line (a last line
 * without a newline too, when the stream ends); returns what it printed so far.
 */
export function captureOutput(child: ChildProcess, opts: RunOptions): () => string {
  let out = "";
  for (const [name, stream] of [
    ["stdout", child.stdout],
    ["stderr", child.stderr],
  ] as const) {
    let partial = "";
    stream?.on("data", (d: Buffer) => {
      const text = d.toString();
      out += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) opts.onLine?.(line, name);
    });
    stream?.on("end", () => {
      if (partial !== "") opts.onLine?.(partial, name);
      partial = "";
    });
  }
  return () => out;
}

/**
 * Resolves with the child's exit code once its output is read too: the pipes
 * close after the exit, unless an orphan it left holds them (then after 1 s).
 */
export function exitedWithOutput(child: ChildProcess, cleanup: () => void): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cleanup();
        resolve(code);
      };
      const timer = setTimeout(finish, 1000);
      child.once("close", finish);
    });
  });
}

/** Bind mounts over / need root; say so plainly instead of failing inside unshare. */
export function requireMountPrivilege(): void {
  if (process.getuid?.() === 0) return;
  throw new Error(
    "running Pods locally needs root: their files are bind-mounted at the paths the image has them " +
      "(e.g. /config.yaml) in a private mount namespace. Run as root (CI and the dev container do).",
  );
}

export async function runPodLocally(
  pod: V1Pod,
  files: ImageFiles,
  admin: KubeConfig,
  opts: RunOptions = {},
): Promise<LocalProcess> {
  requireMountPrivilege();
  const container = pod.spec?.containers[0];
  if (!container) throw new Error("the Pod has no container");
  const creds = await podCredentials(admin, pod);
  const staging = mkdtempSync(join(tmpdir(), "cpa-pod-"));
  const mounts = stageFiles(staging, files, creds);
  const binDir = stageBin(staging);
  const argv = [
    ...(container.command ?? IMAGE_ENTRYPOINT),
    ...(container.args ?? (container.command ? [] : IMAGE_CMD)),
  ];
  const script = [
    ...mounts.map(([from, to]) => `mount --bind ${shellQuote(from)} ${shellQuote(to)}`),
    `cd ${shellQuote(container.workingDir ?? "/")}`,
    `exec ${argv.map(shellQuote).join(" ")}`,
  ].join(" && ");
  const child = spawn("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", script], {
    env: containerEnv(pod, container, binDir, creds),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = captureOutput(child, opts);
  const exited = exitedWithOutput(child, () => {
    rmSync(staging, { recursive: true, force: true });
  });
  // As the kubelet: SIGTERM, then SIGKILL after the Pod's grace period.
  const graceMs = (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill(signal);
    const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(kill);
    }
  };
  return { child, output, stop, exited };
}
