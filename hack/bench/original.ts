// The original Go implementations, for the side-by-side runs: fetched from the
// Go module proxy and built outside the repository (a folder under the system
// temp dir, never committed). What cannot be fetched or built is recorded with
// the exact reason, for docs/benchmarks.md.
import { execFile } from "node:child_process";
import { cpSync, chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ORIGINAL_OPERATOR = {
  module: "github.com/jthomperoo/custom-pod-autoscaler-operator",
  version: "latest",
};
/**
 * The runtime: v2 (the current major version), else v1. v1 is pinned: the proxy
 * here refuses this module's version list (so @latest fails), but serves v1.1.0.
 */
export const ORIGINAL_RUNTIMES = [
  { module: "github.com/jthomperoo/custom-pod-autoscaler/v2", version: "latest" },
  { module: "github.com/jthomperoo/custom-pod-autoscaler", version: "v1.1.0" },
];

export interface Attempt {
  module: string;
  ok: boolean;
  version?: string;
  /** Why it could not be used: the go command's own words. */
  problem?: string;
}

export interface Originals {
  goVersion?: string;
  /** Every module tried, in order, and what happened. */
  attempts: Attempt[];
  runtime?: { module: string; version: string; binary: string; buildSeconds: number | undefined };
}

const goEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GOTOOLCHAIN: "local",
  GOFLAGS: "-mod=mod -buildvcs=false",
});

interface Download {
  Version?: string;
  Dir?: string;
  Error?: string;
}

async function download({ module, version }: { module: string; version: string }): Promise<Download> {
  try {
    const { stdout } = await run("go", ["mod", "download", "-json", `${module}@${version}`], {
      env: goEnv(),
      cwd: tmpdir(),
      timeout: 180_000,
    });
    return JSON.parse(stdout) as Download;
  } catch (err) {
    // go mod download -json prints the JSON (with Error) and exits 1 on failure.
    const stdout = (err as { stdout?: string }).stdout;
    if (stdout) {
      try {
        return JSON.parse(stdout) as Download;
      } catch {
        // fall through
      }
    }
    return { Error: err instanceof Error ? err.message : String(err) };
  }
}

function firstLine(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" | ");
}

/**
 * Fetches and builds the original runtime (v2, else v1) and checks whether the
 * operator can be fetched. Builds are cached in `dir` by module version.
 */
export async function prepareOriginals(
  dir: string,
  log: (line: string) => void,
  buildTimeoutMs: number,
): Promise<Originals> {
  const result: Originals = { attempts: [] };
  try {
    result.goVersion = (await run("go", ["version"], { env: goEnv() })).stdout.trim();
  } catch (err) {
    const problem = `no usable go command: ${err instanceof Error ? err.message : String(err)}`;
    for (const { module } of [ORIGINAL_OPERATOR, ...ORIGINAL_RUNTIMES])
      result.attempts.push({ module, ok: false, problem });
    return result;
  }
  const operator = await download(ORIGINAL_OPERATOR);
  const operatorModule = ORIGINAL_OPERATOR.module;
  result.attempts.push(
    operator.Error
      ? { module: operatorModule, ok: false, problem: firstLine(operator.Error) }
      : {
          module: operatorModule,
          ok: false,
          version: operator.Version ?? "",
          problem: "fetched, but the benchmark has no harness for the Go operator yet",
        },
  );
  for (const candidate of ORIGINAL_RUNTIMES) {
    const { module } = candidate;
    const got = await download(candidate);
    if (got.Error || !got.Dir || !got.Version) {
      result.attempts.push({ module, ok: false, problem: firstLine(got.Error ?? "no module directory") });
      continue;
    }
    try {
      const built = await build(dir, module, got.Version, got.Dir, log, buildTimeoutMs);
      result.attempts.push({ module, ok: true, version: got.Version });
      result.runtime = { module, version: got.Version, ...built };
      break;
    } catch (err) {
      const e = err as { stderr?: string; message?: string };
      result.attempts.push({
        module,
        ok: false,
        version: got.Version,
        problem: `build failed: ${firstLine((e.stderr ?? e.message ?? "").slice(-1500))}`,
      });
    }
  }
  return result;
}

async function build(
  dir: string,
  module: string,
  version: string,
  moduleDir: string,
  log: (line: string) => void,
  timeoutMs: number,
): Promise<{ binary: string; buildSeconds: number | undefined }> {
  const name = `${module.replaceAll("/", "_")}@${version}`;
  const binary = join(dir, "bin", name);
  if (existsSync(binary)) return { binary, buildSeconds: undefined };
  // The module cache is read-only; build in a writable copy, where its go.mod's replace directives apply.
  const src = join(dir, "src", name);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(join(dir, "bin"), { recursive: true });
  cpSync(moduleDir, src, { recursive: true });
  makeWritable(src);
  log(`Building ${module}@${version} with ${timeoutMs / 60_000} min at most (nice 19, in ${src})`);
  const started = Date.now();
  await run("nice", ["-n", "19", "go", "build", "-o", binary, "./cmd/custom-pod-autoscaler"], {
    cwd: src,
    env: goEnv(),
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  return { binary, buildSeconds: Math.round((Date.now() - started) / 1000) };
}

function makeWritable(path: string): void {
  chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) makeWritable(join(path, entry));
}
