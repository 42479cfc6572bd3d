// The original Go implementations, for the side-by-side runs. The module proxy
// refuses `go install` of them, but their repositories are public: the user
// points the benchmark at a source folder (say, `git archive v1.4.2` of
// jthomperoo/custom-pod-autoscaler-operator) or a binary through environment
// variables, and the benchmark builds the source into .cache/originals. Their
// code is never in this repository. What is missing is recorded with why.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { cacheDir } from "../plane/config.ts";

const run = promisify(execFile);

export const ORIGINALS = {
  operator: {
    env: "CPA_ORIGINAL_OPERATOR",
    repository: "github.com/jthomperoo/custom-pod-autoscaler-operator",
    /** The main package inside the repository. */
    main: ".",
  },
  runtime: {
    env: "CPA_ORIGINAL_RUNTIME",
    repository: "github.com/jthomperoo/custom-pod-autoscaler",
    main: ".",
  },
} as const;

export type OriginalName = keyof typeof ORIGINALS;

export interface Original {
  name: OriginalName;
  /** From the source's CHANGELOG (or the binary's file name). */
  version: string;
  binary: string;
  /** The folder or binary the environment variable named. */
  from: string;
  /** Seconds the build took; undefined when it was cached or given as a binary. */
  buildSeconds: number | undefined;
}

export interface Originals {
  goVersion?: string;
  operator?: Original;
  runtime?: Original;
  /** Why an original is absent, in words, by name. */
  absent: Partial<Record<OriginalName, string>>;
}

const goEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GOTOOLCHAIN: "local",
  GOFLAGS: "-mod=mod -buildvcs=false",
  // Static, as the original's release images are: the same binary runs on the host and in an image FROM scratch.
  CGO_ENABLED: "0",
});

/** The first released version in a CHANGELOG (`## [v1.4.2]`), else "unknown". */
export function changelogVersion(text: string): string {
  for (const m of text.matchAll(/^##\s*\[?(v?\d+\.\d+\.\d+[^\]\s]*)\]?/gm)) if (m[1]) return m[1];
  return "unknown";
}

/** One original: built (or found) where the environment points, or why not, in words. */
export async function prepareOriginal(
  name: OriginalName,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<Original | string> {
  const { env: variable, repository, main } = ORIGINALS[name];
  const from = env[variable];
  if (!from)
    return `${variable} is not set: point it at a source folder of ${repository} (git archive of a tag) or at a built binary`;
  if (!existsSync(from)) return `${variable}=${from} does not exist`;
  if (statSync(from).isFile())
    return { name, version: basename(from), binary: from, from, buildSeconds: undefined };
  const changelog = join(from, "CHANGELOG.md");
  const version = existsSync(changelog) ? changelogVersion(readFileSync(changelog, "utf8")) : "unknown";
  const binDir = join(cacheDir, "originals");
  mkdirSync(binDir, { recursive: true });
  const binary = join(binDir, `${name}-${version}-static`);
  if (existsSync(binary)) return { name, version, binary, from, buildSeconds: undefined };
  log(`originals: building the ${name} ${version} from ${from} (nice 19; modules from the Go module proxy)`);
  const started = Date.now();
  try {
    await run("nice", ["-n", "19", "go", "build", "-o", binary, main], {
      cwd: from,
      env: goEnv(),
      timeout: 20 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    return `building ${from} failed: ${(e.stderr ?? e.message ?? "").trim().split("\n").slice(-3).join(" | ")}`;
  }
  return { name, version, binary, from, buildSeconds: Math.round((Date.now() - started) / 1000) };
}

/** The originals the environment points at, built if they are sources. */
export async function prepareOriginals(
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Originals> {
  const result: Originals = { absent: {} };
  try {
    result.goVersion = (await run("go", ["version"], { env: goEnv() })).stdout.trim();
  } catch {
    // Only needed to build from source; a binary works without it.
  }
  for (const name of Object.keys(ORIGINALS) as OriginalName[]) {
    const got = await prepareOriginal(name, env, log);
    if (typeof got === "string") result.absent[name] = got;
    else result[name] = got;
  }
  return result;
}
