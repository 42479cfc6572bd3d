import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { commandsOf, documentedCommands, stripComment } from "./doc-commands.ts";
import { mayRun, NOT_RUN, notRunEntry } from "./doc-commands-not-run.ts";
import { repoRoot } from "./plane/config.ts";

const commands = (markdown: string): string[] => commandsOf(markdown, "x.md").map((c) => c.command);

describe("finding the commands in a document", () => {
  test("every line of a sh, bash or shell block, comments dropped, continuations joined", () => {
    const doc = [
      "```sh",
      "kubectl apply -f a.yaml   # install",
      "# a comment line",
      "",
      "kubectl annotate crd x \\",
      "  key=value",
      "```",
      "```bash",
      "echo 'a # not a comment'",
      "```",
    ].join("\n");
    assert.deepEqual(commands(doc), [
      "kubectl apply -f a.yaml",
      "kubectl annotate crd x key=value",
      "echo 'a # not a comment'",
    ]);
  });

  test("only the $ lines of a console block, and nothing from other blocks", () => {
    const doc = [
      "```console",
      "$ kubectl get cpa",
      "NAME   REFERENCE",
      "```",
      "```yaml",
      "kubectl: not a command",
      "```",
      "```json",
      '{"kubectl": 1}',
      "```",
    ].join("\n");
    assert.deepEqual(commands(doc), ["kubectl get cpa"]);
  });

  test("indented blocks in list items count too, with where they start", () => {
    const doc = "1. Build:\n\n   ```sh\n   docker build -t x .\n   ```\n";
    assert.deepEqual(commandsOf(doc, "x.md"), [
      { file: "x.md", line: 4, command: "docker build -t x .", block: 3 },
    ]);
  });

  test("inline code in prose is a command when it starts with a program and has three words or more", () => {
    const doc =
      "Run `kubectl delete cpa NAME`, or `bin/cpa run --once`; `npm test` and `kubectl kustomize` " +
      "are names, `cpa validate config.yaml` is the command's name in the image, and " +
      "`bin/cpa <command> --help` and `cpa run [--once] x` are synopses.";
    assert.deepEqual(commands(doc), ["kubectl delete cpa NAME", "bin/cpa run --once"]);
  });

  test("a # inside a word or quotes is not a comment", () => {
    assert.equal(stripComment("curl http://x/#frag # fetch"), "curl http://x/#frag");
    assert.equal(stripComment(`echo "# kept"`), `echo "# kept"`);
    assert.equal(stripComment("# all comment"), "");
  });
});

describe("the documented commands of this repository", () => {
  const documented = documentedCommands(repoRoot);

  test("are found in README.md, docs/ and examples/", () => {
    const files = new Set(documented.map((c) => c.file.split("/")[0]));
    assert.deepEqual([...files].sort(), ["README.md", "docs", "examples"]);
    assert.ok(documented.length > 50, `only ${documented.length} commands found`);
  });

  test("every command that no test runs is in the not-run list for a reason", () => {
    // Which ones do run is checked after the integration suite (test/audit/doc-commands.test.ts).
    for (const entry of NOT_RUN) assert.ok(entry.why.length > 10, `no reason for ${String(entry.command)}`);
  });

  test("every entry of the not-run list still matches a documented command", () => {
    const stale = NOT_RUN.filter(
      (e) =>
        !documented.some((c) =>
          typeof e.command === "string" ? e.command === c.command : e.command.test(c.command),
        ),
    ).map((e) => String(e.command));
    assert.deepEqual(stale, []);
  });

  test("a command that runs with a variable may run only when it is set, and a test reads that variable", () => {
    const entry = NOT_RUN.find((e) => e.runsWith !== undefined);
    assert.ok(entry?.runsWith);
    assert.equal(mayRun(entry, {}), false);
    assert.equal(mayRun(entry, { [entry.runsWith]: "/src/original" }), true);
    const others = NOT_RUN.filter((e) => e.runsWith === undefined);
    assert.ok(others.every((e) => !mayRun(e, { [entry.runsWith ?? ""]: "/src/original" })));
    for (const e of NOT_RUN.filter((n) => n.runsWith !== undefined)) {
      const tests = readdirSync(join(repoRoot, "test", "integration"))
        .map((f) => readFileSync(join(repoRoot, "test", "integration", f), "utf8"))
        .join("\n");
      assert.ok(
        tests.includes(`process.env["${e.runsWith ?? ""}"]`),
        `no integration test reads ${e.runsWith ?? ""}`,
      );
    }
  });

  test("the npm scripts the not-run commands name exist, and each such command names one of them", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    for (const entry of NOT_RUN) {
      for (const script of entry.npmScripts ?? []) assert.ok(pkg.scripts[script], `no npm script ${script}`);
    }
    for (const { command } of documented) {
      const entry = notRunEntry(command);
      const scripts = [...command.matchAll(/npm run (?:-s )?([\w:-]+)|npm (test)\b/g)].map(
        (m) => m[1] ?? m[2],
      );
      if (!entry || scripts.length === 0) continue;
      for (const script of scripts) {
        assert.ok(
          entry.npmScripts?.includes(script ?? ""),
          `${command}: its entry does not name the script ${script}`,
        );
      }
    }
  });

  test("the scripts said to run as part of npm test are in its test script", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    for (const part of ["test:unit", "test:integration", "test:faults", "verify"]) {
      assert.ok(pkg.scripts["test"]?.includes(`npm run ${part}`), `npm test does not run ${part}`);
    }
    assert.match(readFileSync(join(repoRoot, ".ci", "run"), "utf8"), /^npm ci\b.*\nnpm test$/m);
  });
});
