import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ACTIONLINT_VERSION,
  actionlintBinary,
  binDir,
  HELM_VERSION,
  helmBinary,
  KUBERNETES_VERSION,
  kubePlaneBinary,
  KWOK_VERSION,
  kwokBinary,
  kwokStagesFile,
  repoRoot,
} from "./config.ts";
import { PlaneError } from "./errors.ts";

const MIN_GO = [1, 26] as const;

/** Builds whatever binary of the plane is missing. Returns true when something was built. */
export function ensureBinaries(log: (line: string) => void): boolean {
  const missing = [kubePlaneBinary, kwokBinary, kwokStagesFile].filter((f) => !existsSync(f));
  if (missing.length === 0) return false;
  checkGo();
  mkdirSync(binDir, { recursive: true });
  if (!existsSync(kubePlaneBinary)) buildKubePlane(log);
  if (!existsSync(kwokBinary) || !existsSync(kwokStagesFile)) buildKwok(log);
  return true;
}

/**
 * A Go tool the tests use, `go install`ed from the module proxy into
 * .cache/bin on first use, stamped with its version where the tool reads one.
 * Returns its path.
 */
function ensureGoTool(
  log: (line: string) => void,
  tool: { name: string; module: string; version: string; binary: string; versionVar?: string },
): string {
  if (existsSync(tool.binary)) return tool.binary;
  checkGo();
  mkdirSync(binDir, { recursive: true });
  log(`Building ${tool.name} ${tool.version} from the Go module proxy (first run only)...`);
  const started = Date.now();
  const gobin = mkdtempSync(join(binDir, `${tool.name}-`));
  try {
    const ldflags = ["-s -w", ...(tool.versionVar ? [`-X ${tool.versionVar}=${tool.version}`] : [])].join(
      " ",
    );
    runGo(["install", "-ldflags", ldflags, `${tool.module}@${tool.version}`], binDir, { GOBIN: gobin });
    renameSync(join(gobin, tool.name), tool.binary);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  log(`Built ${tool.binary} in ${Math.round((Date.now() - started) / 1000)}s`);
  return tool.binary;
}

/** Helm, for the chart's tests (about 3 minutes to build on 2 cores). */
export function ensureHelm(log: (line: string) => void): string {
  return ensureGoTool(log, {
    name: "helm",
    module: "helm.sh/helm/v3/cmd/helm",
    version: HELM_VERSION,
    binary: helmBinary,
    versionVar: "helm.sh/helm/v3/internal/version.version",
  });
}

/** actionlint, which checks the GitHub Actions workflows (.github/workflows). */
export function ensureActionlint(log: (line: string) => void): string {
  return ensureGoTool(log, {
    name: "actionlint",
    module: "github.com/rhysd/actionlint/cmd/actionlint",
    version: ACTIONLINT_VERSION,
    binary: actionlintBinary,
    versionVar: "github.com/rhysd/actionlint.version",
  });
}

function checkGo(): void {
  const res = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" });
  if (res.error || res.status !== 0) {
    throw new PlaneError(
      "Go is not installed: the test control plane is built from source with Go >= 1.26. " +
        "Install Go (https://go.dev/dl/) and make sure `go` is on PATH.",
    );
  }
  const match = /^go(\d+)\.(\d+)/.exec(res.stdout.trim());
  const [major, minor] = [Number(match?.[1] ?? 0), Number(match?.[2] ?? 0)];
  if (major < MIN_GO[0] || (major === MIN_GO[0] && minor < MIN_GO[1])) {
    throw new PlaneError(`Go ${res.stdout.trim()} is too old: the test control plane needs Go >= 1.26.`);
  }
}

function goEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // GOTOOLCHAIN=local: never download a toolchain (only the module proxy is reachable).
  return { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false", ...extra };
}

function buildKubePlane(log: (line: string) => void): void {
  log(
    `Building etcd + kube-apiserver/controller-manager/scheduler ${KUBERNETES_VERSION} (first run only)...`,
  );
  const started = Date.now();
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");
  const ldflags = [
    "-s -w",
    `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
    `-X k8s.io/component-base/version.gitMajor=${major ?? ""}`,
    `-X k8s.io/component-base/version.gitMinor=${minor ?? ""}`,
  ].join(" ");
  const tmp = `${kubePlaneBinary}.tmp`;
  runGo(
    ["build", "-trimpath", "-ldflags", ldflags, "-o", tmp, "."],
    join(repoRoot, "hack", "controlplane"),
    {},
  );
  renameSync(tmp, kubePlaneBinary);
  log(`Built ${kubePlaneBinary} in ${Math.round((Date.now() - started) / 1000)}s`);
}

function buildKwok(log: (line: string) => void): void {
  log(`Building kwok ${KWOK_VERSION} (first run only)...`);
  const gobin = mkdtempSync(join(binDir, "kwok-"));
  try {
    runGo(["install", `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`], binDir, { GOBIN: gobin });
    writeFileSync(kwokStagesFile, kwokStages());
    renameSync(join(gobin, "kwok"), kwokBinary);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

/**
 * kwok does nothing without Stage definitions. We use the same defaults kwokctl
 * uses (node initialize + heartbeat with lease; pod ready/complete/delete), read
 * from the kwok module just downloaded, so they always match the kwok version.
 */
function kwokStages(): string {
  const modDir = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8", env: goEnv({}) }).trim();
  const stageDir = join(modDir, `sigs.k8s.io/kwok@${KWOK_VERSION}`, "kustomize", "stage");
  const files = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
  ];
  return files.map((f) => readFileSync(join(stageDir, f), "utf8").trim()).join("\n---\n") + "\n";
}

function runGo(args: string[], cwd: string, env: Record<string, string>): void {
  const res = spawnSync("go", args, { cwd, env: goEnv(env), stdio: ["ignore", "inherit", "inherit"] });
  if (res.status !== 0) {
    throw new PlaneError(
      `\`go ${args.slice(0, 2).join(" ")}\` failed (exit ${res.status ?? "signal"}) in ${cwd}`,
    );
  }
}
