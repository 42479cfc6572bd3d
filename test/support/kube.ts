// Helpers for integration tests: a client for the cluster under test, a
// namespace per test, kubectl as a user runs it, and polling.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";

export function kubeconfigPath(): string {
  const path = process.env["KUBECONFIG"];
  if (!path) {
    throw new Error(
      "Integration tests need a cluster: run them with `npm run test:integration` (which starts the local " +
        "control plane), or set KUBECONFIG to a cluster you want them to use.",
    );
  }
  return path;
}

export function adminConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** A KubeConfig for the same cluster that authenticates with a bearer token only. */
export function tokenConfig(admin: KubeConfig, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("the admin kubeconfig has no current cluster");
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: "token", token }],
    contexts: [{ name: "token", cluster: cluster.name, user: "token" }],
    currentContext: "token",
  });
  return kc;
}

export function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** Polls fn until it returns a value other than undefined; the last error explains a timeout. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  pollMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${reason}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Creates a namespace for one test, waits for its default ServiceAccount (Pods
 * cannot be created before it exists) and deletes it when the test ends.
 */
export async function testNamespace(t: TestContext, kc: KubeConfig = adminConfig()): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const slug = t.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 40)
    .replace(/-+$/, "");
  const name = `t-${slug}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name, labels: { "cpa-test": "true" } } } });
  t.after(async () => {
    if (process.env["CPA_KEEP_NAMESPACES"] === "1") return;
    await core.deleteNamespace({ name }).catch(() => undefined);
  });
  await eventually(`the default ServiceAccount in ${name}`, async () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: name }),
  );
  return name;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl exactly as a user would, against the cluster under test, as its admin. */
export function kubectl(args: string[], input?: string): Promise<Run> {
  return kubectlAs(kubeconfigPath(), args, input);
}

/** Runs kubectl with another kubeconfig: a user with exactly the rights a test gives them. */
export function kubectlAs(kubeconfig: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      "kubectl",
      args,
      { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
