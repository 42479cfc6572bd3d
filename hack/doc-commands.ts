// The shell commands the documentation tells a reader to run: from README.md,
// docs/ and examples/. Each one either runs in a test (test/support/doc-shell.ts
// records it, test/audit/doc-commands.test.ts checks that all did) or is in the
// commented list of commands that cannot run here (hack/doc-commands-not-run.ts),
// so a command that drifts from the code fails the build.
//
// What counts as a command:
//   - every line of a fenced block marked sh, bash or shell (a trailing `\` joins
//     the next line; comments are dropped);
//   - every `$ ` line of a fenced block marked console (the rest is output);
//   - an inline code span in prose that starts with a program a reader runs
//     (kubectl, npm, bin/cpa, docker...) and has at least three words; a span
//     with `<`, `[` or `...` is a synopsis, not a command.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export interface DocCommand {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based line where the command starts. */
  line: number;
  command: string;
  /** The fenced block it came from (its first line), or undefined for an inline span. */
  block?: number;
}

const SHELL_BLOCKS = new Set(["sh", "bash", "shell"]);
const PROGRAMS = [
  "kubectl",
  "helm",
  "docker",
  "kind",
  "k3d",
  "buildah",
  "podman",
  "npm",
  "node",
  "python3",
  "bin/cpa",
  "../../bin/cpa",
];

interface Fence {
  marker: string;
  info: string;
  /** 1-based line of the opening fence. */
  start: number;
}

/** Reads one document line by line: outside fences, inline spans; inside, shell lines. */
class Scanner {
  readonly out: DocCommand[] = [];
  #fence: Fence | undefined;
  #pending: { text: string; line: number } | undefined;

  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  line(raw: string, line: number): void {
    const trimmed = raw.trim();
    if (this.#fence) {
      this.#inFence(trimmed, line, this.#fence);
      return;
    }
    const open = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(trimmed);
    if (open?.[1]) {
      this.#fence = { marker: open[1], info: open[2] ?? "", start: line };
      return;
    }
    for (const span of inlineSpans(raw)) {
      if (isInlineCommand(span)) this.out.push({ file: this.file, line, command: span });
    }
  }

  #inFence(trimmed: string, line: number, fence: Fence): void {
    if (trimmed.startsWith(fence.marker) && trimmed.replace(/[`~]/g, "") === "") {
      this.#fence = undefined;
      this.#pending = undefined;
      return;
    }
    const pending = this.#pending;
    let text: string;
    if (pending) text = `${pending.text} ${trimmed}`;
    else if (SHELL_BLOCKS.has(fence.info)) text = trimmed;
    else if (fence.info === "console" && trimmed.startsWith("$ ")) text = trimmed.slice(2);
    else return;
    const start = pending?.line ?? line;
    if (text.endsWith("\\")) {
      this.#pending = { text: text.slice(0, -1).trimEnd(), line: start };
      return;
    }
    this.#pending = undefined;
    const command = stripComment(text);
    if (command !== "") this.out.push({ file: this.file, line: start, command, block: fence.start });
  }
}

/** Every command in one markdown document. */
export function commandsOf(markdown: string, file: string): DocCommand[] {
  const scanner = new Scanner(file);
  for (const [i, raw] of markdown.split("\n").entries()) scanner.line(raw, i + 1);
  return scanner.out;
}

/** Drops a `# comment` that starts a line or follows whitespace, outside quotes. */
export function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) {
      return line.slice(0, i).trimEnd();
    }
  }
  return line.trim();
}

function inlineSpans(line: string): string[] {
  return [...line.matchAll(/(?<!`)`([^`]+)`(?!`)/g)].map((m) => (m[1] ?? "").trim());
}

function isInlineCommand(span: string): boolean {
  const words = span.split(/\s+/);
  if (words.length < 3) return false;
  if (/[<[]|\.\.\.|…/.test(span)) return false;
  return PROGRAMS.includes(words[0] ?? "");
}

/** The documents whose commands are checked: README.md, and every .md under docs/ and examples/. */
export function documents(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .flatMap((name) => {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) return walk(path);
        return name.endsWith(".md") ? [path] : [];
      });
  return [join(root, "README.md"), ...walk(join(root, "docs")), ...walk(join(root, "examples"))];
}

/** Every documented command in the repository at root. */
export function documentedCommands(root: string): DocCommand[] {
  return documents(root).flatMap((path) => commandsOf(readFileSync(path, "utf8"), relative(root, path)));
}
