import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Command } from "./commands.ts";
import { main, type Io } from "./main.ts";

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: (t) => (out += t),
    err: (t) => (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

const echo: Command = {
  name: "echo",
  summary: "prints its arguments",
  usage: "Usage: cpa echo [words...]",
  run: (args) => Promise.resolve(args.length),
};

describe("the cpa CLI", () => {
  test("--help lists every registered command with its summary", async () => {
    const io = capture();
    assert.equal(await main(["--help"], [echo], io), 0);
    assert.match(io.stdout(), /^ {2}echo\s+prints its arguments$/m);
  });

  test("runs the named command with the remaining arguments and returns its exit code", async () => {
    assert.equal(await main(["echo", "a", "b"], [echo], capture()), 2);
  });

  test("an unknown command is an error that shows the help, exit code 2", async () => {
    const io = capture();
    assert.equal(await main(["nope"], [echo], io), 2);
    assert.match(io.stderr(), /unknown command "nope"/);
    assert.match(io.stderr(), /Commands:/);
  });

  test("no command at all shows the help on stderr with exit code 2", async () => {
    const io = capture();
    assert.equal(await main([], [echo], io), 2);
    assert.match(io.stderr(), /Usage: cpa <command>/);
  });

  test("<command> --help prints that command's usage instead of running it", async () => {
    const io = capture();
    assert.equal(await main(["echo", "--help"], [echo], io), 0);
    assert.equal(io.stdout(), "Usage: cpa echo [words...]\n");
  });

  test("npm scripts run on the project's pinned Node, not the machine's", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    assert.equal(process.version, `v${pkg.devDependencies["node"] ?? "?"}`);
  });

  test("bin/cpa runs from the checkout with the pinned Node and no build step", () => {
    const root = join(import.meta.dirname, "..", "..");
    const out = execFileSync(join(root, "bin", "cpa"), ["--version"], { encoding: "utf8" });
    assert.match(out, /^cpa \d+\.\d+\.\d+\n$/);
  });
});
