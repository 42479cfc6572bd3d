import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
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
 * Helm, for the chart's tests: `go install` of helm.sh/helm/v3 at HELM_VERSION
 * from the module proxy (first run only, about 3 minutes on 2 cores), stamped
 * with its version as Helm's release builds are. Returns its path.
 */
export function ensureHelm(log: (line: string) => void): string {
  if (existsSync(helmBinary)) return helmBinary;
  checkGo();
  mkdirSync(binDir, { recursive: true });
  log(`Building helm ${HELM_VERSION} from the Go module proxy (first run only)...`);
  const started = Date.now();
  const gobin = mkdtempSync(join(binDir, "helm-"));
  try {
    const ldflags = `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`;
    runGo(["install", "-ldflags", ldflags, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], binDir, {
      GOBIN: gobin,
    });
    renameSync(join(gobin, "helm"), helmBinary);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  log(`Built ${helmBinary} in ${Math.round((Date.now() - started) / 1000)}s`);
  return helmBinary;
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
