// Builds the image's filesystem without Docker, from the Dockerfile itself, so
// `npm test` can run what the image would run and the Dockerfile cannot rot.
//
// Only a small subset of Dockerfile syntax is understood (FROM ... AS, ARG,
// WORKDIR, COPY [--from], RUN, ENV, USER, LABEL, exec-form ENTRYPOINT/CMD),
// and anything else is refused rather than guessed at. `npm ...` RUN steps are
// executed with the pinned Node; other RUN steps (apt-get, useradd) need the
// base image's OS, so they are skipped and reported. The target's files are
// laid out under `<dir>/rootfs` at their image paths.
//
//   node hack/image.ts [--target NAME]   builds and prints the result as JSON
import { spawn } from "node:child_process";
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join, posix, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";

const repoRoot = join(import.meta.dirname, "..");

/** Docker's PATH when neither the base image nor the Dockerfile sets one. */
export const DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export class DockerfileError extends Error {
  override readonly name = "DockerfileError";
}

const KEYWORDS = [
  "FROM",
  "ARG",
  "WORKDIR",
  "COPY",
  "RUN",
  "ENV",
  "USER",
  "LABEL",
  "ENTRYPOINT",
  "CMD",
] as const;
type Keyword = (typeof KEYWORDS)[number];
const isKeyword = (word: string): word is Keyword => (KEYWORDS as readonly string[]).includes(word);

/** Docker expands variables in these; we refuse `$` there instead of expanding it differently. */
const NO_VARIABLES: readonly Keyword[] = ["WORKDIR", "COPY", "ENV", "USER", "LABEL"];

export interface Instruction {
  keyword: Keyword;
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  index: number;
  name: string | undefined;
  /** An image reference, or the name of an earlier stage; global ARGs substituted. */
  from: string;
  line: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

const fail = (line: number, message: string): never => {
  throw new DockerfileError(`Dockerfile line ${line}: ${message}`);
};

/** Joins continuation lines and drops comments and blank lines. */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let current: string | undefined;
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const trimmed = raw.trim();
    if (/^#\s*escape\s*=/i.test(trimmed) && out.length === 0)
      fail(i + 1, "the escape directive is not supported");
    if (trimmed === "" || trimmed.startsWith("#")) return;
    if (current === undefined) {
      start = i + 1;
      current = "";
    }
    if (trimmed.endsWith("\\")) {
      current += `${trimmed.slice(0, -1)} `;
      return;
    }
    out.push({ line: start, text: `${current}${trimmed}`.trim() });
    current = undefined;
  });
  if (current !== undefined) fail(start, "the file ends inside a line continuation");
  return out;
}

/** Splits `a=1 b="two words"` into pairs, as ENV, LABEL and ARG write them. */
export function keyValues(args: string, line: number): [string, string][] {
  const pairs: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/gy;
  let rest = args.trim();
  while (rest !== "") {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m?.[1] || m[2] === undefined) return fail(line, `expected KEY=VALUE pairs, got "${rest}"`);
    pairs.push([m[1], unquote(m[2])]);
    rest = rest.slice(m[0].length).trimStart();
  }
  return pairs;
}

function unquote(value: string): string {
  if (value.startsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, "$1");
  if (value.startsWith("'")) return value.slice(1, -1);
  return value;
}

function execForm(ins: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(ins.args);
  } catch {
    return fail(ins.line, `${ins.keyword} must use the exec form, a JSON array of strings`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) {
    return fail(ins.line, `${ins.keyword} must use the exec form, a JSON array of strings`);
  }
  return parsed;
}

function substituteArgs(text: string, args: Record<string, string>, line: number): string {
  const out = text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_m, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? "";
      return args[name] ?? fail(line, `FROM uses $${name}, which no ARG before the first FROM gives a value`);
    },
  );
  if (out.includes("$")) fail(line, "only $NAME and ${NAME} are supported in FROM");
  return out;
}

/** Per-keyword checks, so an unsupported form fails even in a stage no target uses. */
const CHECKS: Partial<Record<Keyword, (ins: Instruction) => void>> = {
  COPY: (ins) => {
    for (const flag of ins.args.match(/--\S+/g) ?? [])
      if (!flag.startsWith("--from=")) fail(ins.line, `COPY ${flag} is not supported (only --from=STAGE)`);
    if (ins.args.includes("<<")) fail(ins.line, "heredocs are not supported");
  },
  RUN: (ins) => {
    if (ins.args.includes("<<")) fail(ins.line, "heredocs are not supported");
    if (ins.args.startsWith("[")) fail(ins.line, "RUN must use the shell form");
  },
  ENTRYPOINT: (ins) => void execForm(ins),
  CMD: (ins) => void execForm(ins),
  ENV: (ins) => void keyValues(ins.args, ins.line),
  LABEL: (ins) => void keyValues(ins.args, ins.line),
};

function checkInstruction(ins: Instruction): void {
  const { keyword, args, line } = ins;
  if (args === "") fail(line, `${keyword} needs arguments`);
  if (NO_VARIABLES.includes(keyword) && args.includes("$"))
    fail(line, `variables in ${keyword} are not supported: write the value out`);
  if (keyword !== "COPY" && args.startsWith("--")) fail(line, `${keyword} flags are not supported`);
  CHECKS[keyword]?.(ins);
}

export function parseDockerfile(text: string): Dockerfile {
  const file: Dockerfile = { globalArgs: {}, stages: [] };
  for (const { line, text: instruction } of logicalLines(text)) {
    const [, word = "", rest = ""] = /^(\S+)\s*(.*)$/s.exec(instruction) ?? [];
    const keyword = word.toUpperCase();
    if (!isKeyword(keyword)) {
      return fail(
        line,
        `${word} is outside the subset hack/image.ts can replay (${KEYWORDS.join(", ")}); keep the Dockerfile simple, or teach hack/image.ts`,
      );
    }
    const ins: Instruction = { keyword, args: rest.trim(), line };
    checkInstruction(ins);
    const stage = file.stages.at(-1);
    if (keyword === "FROM") file.stages.push(parseFrom(ins, file));
    else if (stage) stage.instructions.push(ins);
    else if (keyword === "ARG") Object.assign(file.globalArgs, Object.fromEntries([argDefault(ins)]));
    else fail(line, `${keyword} before the first FROM`);
  }
  if (file.stages.length === 0) throw new DockerfileError("Dockerfile has no FROM");
  return file;
}

function parseFrom(ins: Instruction, file: Dockerfile): Stage {
  const m = /^(\S+)(?:\s+as\s+(\S+))?$/i.exec(ins.args);
  if (!m?.[1]) return fail(ins.line, "expected FROM IMAGE [AS NAME]");
  const name = m[2]?.toLowerCase();
  if (name !== undefined && file.stages.some((s) => s.name === name))
    fail(ins.line, `stage ${name} is defined twice`);
  const from = substituteArgs(m[1], file.globalArgs, ins.line);
  return { index: file.stages.length, name, from, line: ins.line, instructions: [] };
}

function argDefault(ins: Instruction): [string, string] {
  const m = /^(\w+)(?:=(.*))?$/.exec(ins.args);
  if (!m?.[1]) return fail(ins.line, "expected ARG NAME[=VALUE]");
  return [m[1], m[2] === undefined ? "" : unquote(m[2])];
}

/** A .dockerignore: returns whether a context-relative path is excluded. */
export function dockerignore(text: string): {
  excludes: (rel: string) => boolean;
  mayInclude: (dir: string) => boolean;
} {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = posix.normalize(negate ? l.slice(1).trim() : l).replace(/^\/+|\/+$/g, "");
      if (/[[\\]/.test(pattern))
        throw new DockerfileError(`.dockerignore: "${l}": [ and \\ are not supported`);
      return { negate, pattern, re: globToRegExp(pattern) };
    });
  const matches = (re: RegExp, rel: string): boolean => {
    const parts = rel.split("/");
    return parts.some((_, i) => re.test(parts.slice(0, i + 1).join("/")));
  };
  return {
    excludes: (rel) => rules.reduce((excluded, r) => (matches(r.re, rel) ? !r.negate : excluded), false),
    // An excluded directory is still walked if an exception could match inside it, as Docker does.
    mayInclude: (dir) =>
      rules.some((r) => r.negate && (r.pattern.startsWith(`${dir}/`) || r.pattern.startsWith("*"))),
  };
}

const GLOB: Record<string, string> = { "**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]" };

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split(/(\*\*\/|\*\*|\*|\?)/)
    .map((part) => GLOB[part] ?? part.replace(/[.+^${}()|\]]/g, "\\$&"))
    .join("");
  return new RegExp(`^${body}$`);
}

export interface SkippedStep {
  stage: string;
  line: number;
  instruction: string;
  reason: string;
}

export interface ImageBuild {
  /** The temporary directory holding everything; remove it when done. */
  dir: string;
  /** The target's filesystem: image path /x is `${rootfs}/x`. */
  rootfs: string;
  target: string;
  /** The external image the target's chain of stages starts from. */
  baseImage: string;
  entrypoint: string[];
  cmd: string[];
  /** ENTRYPOINT followed by CMD: what the container runs without a command of its own. */
  argv: string[];
  workdir: string;
  /** What the Dockerfile sets; the base image's own env is not known here. */
  env: Record<string, string>;
  user: string | undefined;
  labels: Record<string, string>;
  skipped: SkippedStep[];
}

export interface BuildOptions {
  /** The build context (default: the repository). */
  context?: string;
  /** Default: Dockerfile in the context. */
  dockerfile?: string;
  /** A stage name; default the last stage, as `docker build` does. */
  target?: string;
  /** The directory containing the `node` the npm steps run on (default: the pinned Node's). */
  nodeBinDir?: string;
}

/** Where `node_modules/.bin/node`, the pinned Node, really lives. */
export function pinnedNodeBinDir(): string {
  return dirname(realpathSync(join(repoRoot, "node_modules", ".bin", "node")));
}

interface State {
  rootfs: string;
  baseImage: string;
  workdir: string;
  env: Record<string, string>;
  args: Record<string, string>;
  user: string | undefined;
  labels: Record<string, string>;
  /** undefined: the external base image's, which cannot be known here. */
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  cmdSetHere: boolean;
}

/** Maps an image path, relative to `cwd`, into a root directory, never outside it. */
function inRoot(root: string, cwd: string, path: string): string {
  return join(root, posix.resolve(cwd, path));
}

class Replay {
  readonly skipped: SkippedStep[] = [];
  readonly #roots = new Map<number, Promise<string>>();
  readonly #ignore: ReturnType<typeof dockerignore>;
  readonly #file: Dockerfile;
  readonly #context: string;
  readonly #dir: string;
  readonly #nodeBinDir: string;

  constructor(file: Dockerfile, context: string, dir: string, nodeBinDir: string) {
    this.#file = file;
    this.#context = context;
    this.#dir = dir;
    this.#nodeBinDir = nodeBinDir;
    const ignorePath = join(context, ".dockerignore");
    this.#ignore = dockerignore(existsSync(ignorePath) ? readFileSync(ignorePath, "utf8") : "");
  }

  /** An earlier stage by name or index, as FROM and COPY --from refer to it. */
  earlier(ref: string, before: number): Stage | undefined {
    const lower = ref.toLowerCase();
    return this.#file.stages.find(
      (s) => s.index < before && (s.name === lower || (s.name === undefined && String(s.index) === ref)),
    );
  }

  async run(stage: Stage, rootfs: string): Promise<State> {
    const parent = this.earlier(stage.from, stage.index);
    const state: State = parent
      ? { ...(await this.run(parent, rootfs)), cmdSetHere: false }
      : {
          rootfs,
          baseImage: stage.from,
          workdir: "/",
          env: {},
          args: {},
          user: undefined,
          labels: {},
          entrypoint: undefined,
          cmd: undefined,
          cmdSetHere: false,
        };
    mkdirSync(rootfs, { recursive: true });
    for (const ins of stage.instructions) await this.apply(stage, state, ins);
    return state;
  }

  async apply(stage: Stage, state: State, ins: Instruction): Promise<void> {
    switch (ins.keyword) {
      case "FROM":
        return;
      case "ARG": {
        const [name, value] = argDefault(ins);
        state.args[name] = value || (this.#file.globalArgs[name] ?? "");
        return;
      }
      case "WORKDIR":
        state.workdir = posix.resolve(state.workdir, ins.args);
        mkdirSync(inRoot(state.rootfs, "/", state.workdir), { recursive: true });
        return;
      case "COPY":
        await this.copy(stage, state, ins);
        return;
      case "RUN":
        await this.runStep(stage, state, ins);
        return;
      case "ENV":
        Object.assign(state.env, Object.fromEntries(keyValues(ins.args, ins.line)));
        return;
      case "LABEL":
        Object.assign(state.labels, Object.fromEntries(keyValues(ins.args, ins.line)));
        return;
      case "USER":
        state.user = ins.args;
        return;
      case "ENTRYPOINT":
        state.entrypoint = execForm(ins);
        // Docker: a new ENTRYPOINT drops the CMD inherited from the image below.
        if (!state.cmdSetHere) state.cmd = [];
        return;
      case "CMD":
        state.cmd = execForm(ins);
        state.cmdSetHere = true;
        return;
    }
  }

  async copy(stage: Stage, state: State, ins: Instruction): Promise<void> {
    const { from, sources, dest } = parseCopy(ins);
    const source = from === undefined ? undefined : this.earlier(from, stage.index);
    if (from !== undefined && !source)
      fail(ins.line, `COPY --from=${from}: only earlier stages of this Dockerfile are supported`);
    const sourceRoot = source ? await this.root(source) : undefined;
    // Docker: several sources, or a DEST ending in /, mean DEST is a directory.
    const intoDir = dest.endsWith("/") || sources.length > 1;
    const destPath = inRoot(state.rootfs, state.workdir, dest);
    for (const src of sources) {
      const path = sourceRoot ? inRoot(sourceRoot, "/", src) : this.contextPath(src, ins.line);
      if (!existsSync(path))
        fail(ins.line, `COPY ${src}: not found in ${from ? `stage ${from}` : "the build context"}`);
      const isDir = statSync(path).isDirectory();
      // A directory's contents go to DEST; a file goes to DEST, or into it when DEST is a directory.
      const target = isDir || !(intoDir || isDirectory(destPath)) ? destPath : join(destPath, basename(path));
      if (sourceRoot) cpSync(path, target, { recursive: true, verbatimSymlinks: true });
      else this.copyFromContext(path, target, relative(this.#context, path).split(sep).join("/"));
    }
  }

  /** A COPY source in the build context; named sources that .dockerignore excludes are missing, as for Docker. */
  contextPath(src: string, line: number): string {
    const path = resolve(this.#context, src.replace(/^\/+/, ""));
    const rel = relative(this.#context, path).split(sep).join("/");
    if (rel === ".." || rel.startsWith("../")) fail(line, `${src} is outside the build context`);
    if (rel !== "" && this.#ignore.excludes(rel))
      fail(line, `COPY ${src}: not in the build context (.dockerignore excludes it)`);
    return path;
  }

  copyFromContext(from: string, to: string, rel: string): void {
    const st = lstatSync(from);
    if (st.isDirectory()) {
      mkdirSync(to, { recursive: true });
      for (const entry of readdirSync(from)) {
        const child = rel === "" ? entry : `${rel}/${entry}`;
        const excluded = this.#ignore.excludes(child);
        const isDir = lstatSync(join(from, entry)).isDirectory();
        if (excluded && !(isDir && this.#ignore.mayInclude(child))) continue;
        this.copyFromContext(join(from, entry), join(to, entry), child);
      }
    } else if (!this.#ignore.excludes(rel) || rel === "") {
      mkdirSync(dirname(to), { recursive: true });
      rmSync(to, { force: true });
      if (st.isSymbolicLink()) {
        symlinkSync(readlinkSync(from), to);
      } else {
        copyFileSync(from, to);
        chmodSync(to, st.mode & 0o7777);
      }
    }
  }

  /** A stage's own filesystem, replayed once, for COPY --from. */
  root(stage: Stage): Promise<string> {
    let root = this.#roots.get(stage.index);
    if (!root) {
      const dir = join(this.#dir, "stages", `${stage.index}-${stage.name ?? "unnamed"}`);
      root = this.run(stage, dir).then(() => dir);
      this.#roots.set(stage.index, root);
    }
    return root;
  }

  async runStep(stage: Stage, state: State, ins: Instruction): Promise<void> {
    const where = {
      stage: stage.name ?? String(stage.index),
      line: ins.line,
      instruction: `RUN ${ins.args}`,
    };
    if (!/^npm\s/.test(ins.args)) {
      // A stage replayed twice (as a parent and for COPY --from) is reported once.
      if (this.skipped.some((s) => s.line === ins.line)) return;
      this.skipped.push({
        ...where,
        reason: "not an npm command: it needs the base image's operating system, so only Docker runs it",
      });
      return;
    }
    // The whole line runs in a shell on this machine, so it must be one npm command.
    if (/[;&|<>`$()\\\n]/.test(ins.args))
      fail(
        ins.line,
        "an npm RUN step must be a single npm command (no shell operators), to be replayed safely",
      );
    if (state.env["PATH"] !== undefined) fail(ins.line, "ENV PATH before an npm RUN step cannot be replayed");
    await this.npm(ins.args, inRoot(state.rootfs, "/", state.workdir), { ...state.args, ...state.env });
  }

  async npm(command: string, cwd: string, imageEnv: Record<string, string>): Promise<void> {
    // A clean npm: no config from this machine's npmrc files or from an outer `npm test`.
    const userrc = join(this.#dir, "empty-user-npmrc");
    const globalrc = join(this.#dir, "empty-global-npmrc");
    writeFileSync(userrc, "");
    writeFileSync(globalrc, "");
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|node_)/i.test(k))),
      ...imageEnv,
      PATH: `${this.#nodeBinDir}${delimiter}${process.env["PATH"] ?? ""}`,
      npm_config_userconfig: userrc,
      npm_config_globalconfig: globalrc,
      // The lockfile fixes what is installed; these only spare the network.
      npm_config_prefer_offline: "true",
      npm_config_audit: "false",
      npm_config_fund: "false",
      npm_config_update_notifier: "false",
    };
    const child = spawn("/bin/sh", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (c) => {
        resolve(c ?? 1);
      });
    });
    if (code !== 0) throw new Error(`RUN ${command} exited ${code} in ${cwd}:\n${output.slice(-4000)}`);
  }
}

function parseCopy(ins: Instruction): { from: string | undefined; sources: string[]; dest: string } {
  const words = ins.args.split(/\s+/);
  const from = words[0]?.startsWith("--from=") ? words.shift()?.slice("--from=".length) : undefined;
  const dest = words.pop();
  if (dest === undefined || words.length === 0)
    return fail(ins.line, "expected COPY [--from=STAGE] SRC... DEST");
  if (words.some((w) => /[*?[]/.test(w))) fail(ins.line, "wildcards in COPY sources are not supported");
  return { from, sources: words, dest };
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** Replays the Dockerfile's `target` (default: the last stage) into a new temporary directory. */
export async function buildImage(options: BuildOptions = {}): Promise<ImageBuild> {
  const context = options.context ?? repoRoot;
  const file = parseDockerfile(readFileSync(options.dockerfile ?? join(context, "Dockerfile"), "utf8"));
  const stage = options.target
    ? file.stages.find((s) => s.name === options.target?.toLowerCase())
    : file.stages.at(-1);
  if (!stage) throw new DockerfileError(`Dockerfile has no stage ${options.target ?? ""}`);
  const dir = mkdtempSync(join(tmpdir(), "cpa-image-"));
  try {
    const replay = new Replay(file, context, dir, options.nodeBinDir ?? pinnedNodeBinDir());
    const rootfs = join(dir, "rootfs");
    const state = await replay.run(stage, rootfs);
    if (state.entrypoint === undefined || state.cmd === undefined)
      throw new DockerfileError(
        `the ${stage.name ?? stage.index} target keeps ${state.baseImage}'s ENTRYPOINT, which cannot be known without Docker: set ENTRYPOINT`,
      );
    return {
      dir,
      rootfs,
      target: stage.name ?? String(stage.index),
      baseImage: state.baseImage,
      entrypoint: state.entrypoint,
      cmd: state.cmd,
      argv: [...state.entrypoint, ...state.cmd],
      workdir: state.workdir,
      env: state.env,
      user: state.user,
      labels: state.labels,
      skipped: replay.skipped,
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The host path of an image path in a build. */
export function hostPath(build: ImageBuild, imagePath: string): string {
  return inRoot(build.rootfs, build.workdir, imagePath);
}

/** Finds a command as the container would, through the image's PATH; undefined if the rootfs lacks it. */
export function which(build: ImageBuild, command: string): string | undefined {
  const dirs = command.includes("/") ? [""] : (build.env["PATH"] ?? DOCKER_DEFAULT_PATH).split(":");
  for (const dir of dirs) {
    const candidate = hostPath(build, dir === "" ? command : posix.join(dir, command));
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { target: { type: "string" } } });
  const build = await buildImage(values.target === undefined ? {} : { target: values.target });
  process.stdout.write(`${JSON.stringify(build, null, 2)}\n`);
}
