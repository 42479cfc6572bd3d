// Runs the documentation's shell commands as written, the way a reader would:
// bash, from the folder the page says, against the cluster under test with a
// kubeconfig whose context namespace is the test's (so `kubectl apply -f
// web.yaml` lands there). A command must be in the docs word for word
// (hack/doc-commands.ts finds them), so a test of a command that drifted fails;
// each one run is recorded, and test/audit/doc-commands.test.ts checks after the
// suite that every documented command ran, or is listed as one that cannot.
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { parse, stringify } from "yaml";
import { documentedCommands } from "../../hack/doc-commands.ts";
import { helmBinary } from "../../hack/plane/config.ts";
import { eventually, kubeconfigPath, type Run } from "./kube.ts";
import { repoFile, type OnCleanup } from "./processes.ts";

const repoRoot = repoFile();
let documented: Set<string> | undefined;

/** Whether a command is in README.md, docs/ or examples/, word for word. */
export function isDocumented(command: string): boolean {
  documented ??= new Set(documentedCommands(repoRoot).map((c) => c.command));
  return documented.has(command);
}

/** Notes that a documented command ran in this suite (for test/audit/doc-commands.test.ts). */
function record(command: string): void {
  const dir = process.env["CPA_DOC_COVERAGE_DIR"];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, `${process.pid}.jsonl`), JSON.stringify({ command }) + "\n");
}

/**
 * A bin folder for what the docs assume is on PATH: `cpa` (the image's name for
 * bin/cpa), `python`, which the getting-started README asks for (Debian's
 * python-is-python3) and which the image has, and `helm` once a test has built
 * it (ensureHelm).
 */
function pathFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "cpa-doc-bin-"));
  symlinkSync(repoFile("bin", "cpa"), join(dir, "cpa"));
  if (existsSync(helmBinary)) symlinkSync(helmBinary, join(dir, "helm"));
  const python3 = spawnSync("sh", ["-c", "command -v python3"], { encoding: "utf8" }).stdout.trim();
  if (python3) symlinkSync(python3, join(dir, "python"));
  return dir;
}

/** A copy of the cluster's kubeconfig whose current context uses `namespace`. */
export function namespacedKubeconfig(namespace: string, source = kubeconfigPath()): string {
  const config = parse(readFileSync(source, "utf8")) as {
    "current-context": string;
    contexts: { name: string; context: Record<string, unknown> }[];
  };
  const current = config.contexts.find((c) => c.name === config["current-context"]);
  if (!current) throw new Error(`${source} has no current context`);
  current.context["namespace"] = namespace;
  const file = join(mkdtempSync(join(tmpdir(), "cpa-doc-kubeconfig-")), "kubeconfig");
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/** The words of `names` that are words of `command`, for substitute: one table for several commands. */
export function wordsIn(command: string, names: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(names).filter(([from]) => {
      const escaped = from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`).test(command);
    }),
  );
}

export interface DocRunOptions {
  /**
   * Words to replace before running, for placeholders (NAME, my-team) and for
   * what cannot be reached from a test (a URL on GitHub): visible in the test.
   */
  substitute?: Readonly<Record<string, string>>;
  /** The exit code the docs lead to expect (default 0). */
  code?: number;
  env?: Readonly<Record<string, string>>;
  /** With start(): how long it may take to be ready (default 30 s). */
  readyTimeoutMs?: number;
}

export interface DocShellOptions {
  /** Where the reader starts: the repository's root unless said otherwise. */
  cwd?: string;
  /** The kubeconfig's namespace (the reader's current namespace). */
  namespace: string;
  /** Another user's kubeconfig, to run as them. */
  kubeconfig?: string;
  env?: Readonly<Record<string, string>>;
}

export class DocShell {
  #cwd: string;
  readonly #kubeconfig: string;
  readonly #env: Readonly<Record<string, string>>;
  readonly #path: string;
  readonly #onCleanup: OnCleanup;

  constructor(onCleanup: OnCleanup, opts: DocShellOptions) {
    this.#onCleanup = onCleanup;
    this.#cwd = opts.cwd ?? repoRoot;
    this.#kubeconfig = namespacedKubeconfig(opts.namespace, opts.kubeconfig);
    this.#env = opts.env ?? {};
    this.#path = `${pathFolder()}:${process.env["PATH"] ?? ""}`;
  }

  static of(t: TestContext, opts: DocShellOptions): DocShell {
    return new DocShell((fn) => {
      t.after(fn);
    }, opts);
  }

  get cwd(): string {
    return this.#cwd;
  }

  /** Moves to a folder as a reader would before the next commands (not a documented `cd`). */
  chdir(dir: string): void {
    this.#cwd = resolve(repoRoot, dir);
  }

  #prepare(command: string, opts: DocRunOptions): string {
    if (!isDocumented(command)) {
      throw new Error(
        `"${command}" is not in README.md, docs/ or examples/ as written: the docs and this test disagree`,
      );
    }
    record(command);
    let line = command;
    for (const [from, to] of Object.entries(opts.substitute ?? {})) {
      const escaped = from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const replaced = line.replace(new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, "g"), to);
      if (replaced === line) throw new Error(`"${from}" is not a word of "${command}"`);
      line = replaced;
    }
    return line;
  }

  #spawnEnv(opts: DocRunOptions): NodeJS.ProcessEnv {
    return { ...process.env, ...this.#env, ...opts.env, KUBECONFIG: this.#kubeconfig, PATH: this.#path };
  }

  /** Runs a documented command to its end; a documented `cd` moves this shell. */
  async run(command: string, opts: DocRunOptions = {}): Promise<Run> {
    const line = this.#prepare(command, opts);
    const cd = /^cd (\S+)$/.exec(line);
    if (cd?.[1]) {
      this.#cwd = resolve(this.#cwd, cd[1]);
      return { code: 0, stdout: "", stderr: "" };
    }
    const result = await new Promise<Run>((done) => {
      const child = spawn("bash", ["-c", line], { cwd: this.#cwd, env: this.#spawnEnv(opts) });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => {
        done({ code: code ?? 1, stdout, stderr });
      });
    });
    const want = opts.code ?? 0;
    if (result.code !== want) {
      throw new Error(
        `"${line}" (in ${this.#cwd}) exited ${result.code}, not ${want}:\n${result.stderr}${result.stdout}`,
      );
    }
    return result;
  }

  /**
   * Starts a documented command that runs until stopped (a server, the
   * operator), waits until `ready` says it is, and stops it at cleanup.
   */
  async start(
    command: string,
    ready: (output: string) => Promise<boolean | undefined>,
    opts: DocRunOptions = {},
  ): Promise<{ stop: (signal?: NodeJS.Signals) => Promise<void>; output: () => string }> {
    const line = this.#prepare(command, opts);
    // exec: the signal reaches the command itself, not a shell around it.
    // A process group of its own, as a terminal gives a command: stopping it
    // signals every process in it, as Ctrl-C does (npm run does not pass a
    // signal on to its script, and exits without waiting for it).
    const child = spawn("bash", ["-c", `exec ${line}`], {
      cwd: this.#cwd,
      env: this.#spawnEnv(opts),
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const group = child.pid ?? 0;
    const groupAlive = (): boolean => {
      try {
        process.kill(-group, 0);
        return true;
      } catch {
        return false;
      }
    };
    /** Signals the whole group (SIGINT: Ctrl-C) and waits until every process in it has exited. */
    const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
      if (group === 0 || !groupAlive()) return;
      process.kill(-group, signal);
      const deadline = Date.now() + 60_000;
      while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (groupAlive()) process.kill(-group, "SIGKILL");
    };
    this.#onCleanup(() => stop());
    const state = await eventually(
      `"${line}" to be ready`,
      async () => (child.exitCode !== null ? "exited" : (await ready(output)) ? "ready" : undefined),
      opts.readyTimeoutMs,
    );
    if (state === "exited") throw new Error(`"${line}" exited (${child.exitCode}):\n${output}`);
    return { stop, output: () => output };
  }
}
