// The user logic every runtime benchmark runs: the same trivial metric ("5") and
// evaluate (keep the current replicas, so no cycle writes /scale) as an
// in-process module, a /bin/sh one-liner, a Python script, and an HTTP server in
// a process of its own. Trivial on purpose: what is left of a cycle is the
// framework's own cost.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export type MethodKind = "module" | "sh" | "python" | "http";
export const METHOD_KINDS: readonly MethodKind[] = ["module", "sh", "python", "http"];

export interface TargetSpec {
  /** Label in reports. */
  mode: string;
  runMode: "per-resource" | "per-pod";
  /** Deployment name and replicas (= Pods the per-pod mode runs the metric for). */
  name: string;
  replicas: number;
}

export const PER_RESOURCE: TargetSpec = {
  mode: "per-resource",
  runMode: "per-resource",
  name: "t1",
  replicas: 1,
};

export const TARGETS: readonly TargetSpec[] = [
  PER_RESOURCE,
  { mode: "per-pod 10", runMode: "per-pod", name: "t10", replicas: 10 },
  { mode: "per-pod 100", runMode: "per-pod", name: "t100", replicas: 100 },
];

const MODULE = `// Benchmark stages: trivial on purpose.
export function metric() {
  return "5";
}
export function evaluate(input) {
  return { targetReplicas: input.resource.spec.replicas };
}
`;

const PYTHON = `import json, sys
data = json.load(sys.stdin)
if sys.argv[1] == "metric":
    print(5)
else:
    print(json.dumps({"targetReplicas": data["resource"]["spec"]["replicas"]}))
`;

const SERVER = `import { createServer } from "node:http";
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    if (req.url === "/metric") return res.end("5");
    const input = JSON.parse(body);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ targetReplicas: input.resource.spec.replicas }));
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

export interface WorkDir {
  dir: string;
  /** The Python interpreter itself: a version manager's shim would add its own start-up to every run. */
  python3: string;
  module: string;
  python: string;
  server: string;
  remove(): void;
}

export function prepareWorkDir(): WorkDir {
  const dir = mkdtempSync(join(tmpdir(), "cpa-bench-"));
  const files = {
    module: join(dir, "stages.ts"),
    python: join(dir, "stages.py"),
    server: join(dir, "server.mjs"),
  };
  writeFileSync(files.module, MODULE);
  writeFileSync(files.python, PYTHON);
  writeFileSync(files.server, SERVER);
  const python3 = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
  }).trim();
  return {
    dir,
    python3,
    ...files,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StageServer {
  url: string;
  child: ChildProcess;
  stop(): void;
}

/** The HTTP method's server, in a process of its own so it does not share the runtime's event loop. */
export async function startStageServer(work: WorkDir): Promise<StageServer> {
  const child = spawn(process.execPath, [work.server], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => {
      reject(new Error(`the stage server exited (${code ?? "signal"})`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () => {
      child.kill("SIGTERM");
    },
  };
}

const TIMEOUT_MS = 10_000;

/**
 * metric and evaluate as config methods, for `target`. The shell, python and
 * http forms are the original's config format too, so the Go runtime runs
 * exactly the same user logic.
 */
export function stageMethods(
  kind: MethodKind,
  target: TargetSpec,
  work: WorkDir,
  serverUrl: string | undefined,
): { metric: Record<string, unknown>; evaluate: Record<string, unknown> } {
  const shell = (entrypoint: string, command: string[]) => ({
    type: "shell",
    timeout: TIMEOUT_MS,
    shell: { entrypoint, command },
  });
  const http = (path: string) => ({
    type: "http",
    timeout: TIMEOUT_MS,
    http: { method: "POST", url: `${serverUrl ?? ""}${path}`, successCodes: [200], parameterMode: "body" },
  });
  switch (kind) {
    case "module":
      return {
        metric: { type: "module", timeout: TIMEOUT_MS, module: { path: work.module, export: "metric" } },
        evaluate: { type: "module", timeout: TIMEOUT_MS, module: { path: work.module, export: "evaluate" } },
      };
    case "sh":
      return {
        metric: shell("/bin/sh", ["-c", "echo 5"]),
        evaluate: shell("/bin/sh", ["-c", `echo '{"targetReplicas":${target.replicas}}'`]),
      };
    case "python":
      return {
        metric: shell(work.python3, [work.python, "metric"]),
        evaluate: shell(work.python3, [work.python, "evaluate"]),
      };
    case "http":
      return { metric: http("/metric"), evaluate: http("/evaluate") };
  }
}

/** The configuration both runtimes read (the original's keys). */
export function runtimeConfig(
  namespace: string,
  target: TargetSpec,
  methods: { metric: Record<string, unknown>; evaluate: Record<string, unknown> },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target.name },
    namespace,
    runMode: target.runMode,
    minReplicas: 1,
    maxReplicas: 200,
    interval: 1000,
    ...methods,
    ...extra,
  };
}
