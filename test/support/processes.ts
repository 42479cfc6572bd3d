// Runs cpa processes (the operator, the autoscaler) for integration tests, each
// with exactly a ServiceAccount's rights: a TokenRequest token in a kubeconfig
// of its own, never the admin's.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { runPodLocally, type ImageFiles } from "../../hack/local-pods/pod-runner.ts";
import { stringify } from "yaml";
import { adminConfig, eventually } from "./kube.ts";

const repoRoot = join(import.meta.dirname, "..", "..");

/** A fresh TokenRequest token for namespace/serviceAccount. */
export async function serviceAccountToken(
  namespace: string,
  serviceAccount: string,
  admin: KubeConfig = adminConfig(),
): Promise<string> {
  const req = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  if (!req.status?.token) throw new Error("could not mint a ServiceAccount token");
  return req.status.token;
}

/** A kubeconfig file that authenticates as namespace/serviceAccount with a fresh token. */
export async function serviceAccountKubeconfig(
  namespace: string,
  serviceAccount: string,
  admin: KubeConfig = adminConfig(),
): Promise<string> {
  const token = await serviceAccountToken(namespace, serviceAccount, admin);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("the admin kubeconfig has no current cluster");
  const dir = mkdtempSync(join(tmpdir(), "cpa-sa-"));
  const file = join(dir, "kubeconfig");
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "c", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData } },
      ],
      users: [{ name: serviceAccount, user: { token } }],
      contexts: [{ name: "c", context: { cluster: "c", user: serviceAccount, namespace } }],
      "current-context": "c",
    }),
    { mode: 0o600 },
  );
  return file;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => {
        resolve(port);
      });
    });
  });
}

export interface RunningProcess {
  child: ChildProcess;
  /** Everything it printed so far (JSON log lines). */
  output: () => string;
  /** SIGTERM, wait for exit; resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

/** Registers cleanup: `(fn) => t.after(fn)` in a test, `after` in a suite. */
export type OnCleanup = (fn: () => Promise<void>) => void;

export const cleanupOf =
  (t: TestContext): OnCleanup =>
  (fn) => {
    t.after(fn);
  };

/** Runs `bin/cpa <args>` and stops it at cleanup. */
export function runCpa(
  onCleanup: OnCleanup,
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): RunningProcess {
  const child = spawn(join(repoRoot, "bin", "cpa"), args, {
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      resolve(code);
    }),
  );
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  onCleanup(async () => {
    await stop();
    if (process.env["CPA_SHOW_LOGS"] === "1") process.stderr.write(out);
  });
  return { child, output: () => out, stop, exited };
}

export interface Operator extends RunningProcess {
  metricsUrl: string;
  /** Apiserver write requests made so far (create, update, patch, delete), from its /metrics. */
  writes: () => Promise<number>;
}

/**
 * The operator, running as the cpa-operator ServiceAccount of an install bundle:
 * config/cluster.yaml's in cpa-system by default.
 */
export async function startOperator(
  onCleanup: OnCleanup,
  extraArgs: string[] = [],
  installNamespace = "cpa-system",
  serviceAccount = "cpa-operator",
): Promise<Operator> {
  const kubeconfig = await serviceAccountKubeconfig(installNamespace, serviceAccount);
  const port = await freePort();
  const proc = runCpa(onCleanup, [
    "operator",
    `--kubeconfig=${kubeconfig}`,
    `--http-address=127.0.0.1:${port}`,
    ...extraArgs,
  ]);
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await eventually("the operator to be ready", async () => {
    if (proc.child.exitCode !== null)
      throw new Error(`the operator exited (${proc.child.exitCode}):\n${proc.output()}`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    return res.ok ? true : undefined;
  });
  const writes = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    let total = 0;
    for (const m of text.matchAll(
      /^cpa_kube_requests_total\{method="(POST|PUT|PATCH|DELETE)",code="\d+"\} (\d+)/gm,
    )) {
      total += Number(m[2]);
    }
    return total;
  };
  return { ...proc, metricsUrl, writes };
}

export const repoFile = (...parts: string[]): string => join(repoRoot, ...parts);

/** Runs a Pod as the kubelet would, as a local process (see hack/local-pods), stopped at cleanup. */
export async function runPod(
  onCleanup: OnCleanup,
  pod: V1Pod,
  files: ImageFiles,
  admin: KubeConfig = adminConfig(),
): Promise<RunningProcess> {
  const proc = await runPodLocally(pod, files, admin);
  onCleanup(async () => {
    await proc.stop();
    if (process.env["CPA_SHOW_LOGS"] === "1") process.stderr.write(proc.output());
  });
  return proc;
}
