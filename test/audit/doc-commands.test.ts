// Every shell command in README.md, docs/ and examples/ ran, as written, during
// the integration suite (test/support/doc-shell.ts noted each one), or is listed
// with the reason it cannot run here (hack/doc-commands-not-run.ts). Runs after
// the suite (hack/integration.ts), like the audit-log check beside it.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { documentedCommands } from "../../hack/doc-commands.ts";
import { mayRun, notRunEntry } from "../../hack/doc-commands-not-run.ts";
import { repoRoot } from "../../hack/plane/config.ts";

const dir = process.env["CPA_DOC_COVERAGE_DIR"];
const skip =
  dir === undefined
    ? "run by npm run test:integration, which notes the commands the suite runs"
    : process.env["CPA_PARTIAL_SUITE"] === "1"
      ? "only part of the integration suite ran"
      : false;

function ran(): Set<string> {
  const out = new Set<string>();
  if (!dir || !existsSync(dir)) return out;
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (line !== "") out.add((JSON.parse(line) as { command: string }).command);
    }
  }
  return out;
}

test(
  "every documented command ran in the integration suite, or is listed as one that cannot run here",
  { skip },
  () => {
    const done = ran();
    const missing = documentedCommands(repoRoot)
      .filter((c) => !done.has(c.command) && !notRunEntry(c.command))
      .map((c) => `${c.file}:${c.line}: ${c.command}`);
    assert.deepEqual(
      [...new Set(missing)],
      [],
      "Run each in a test with DocShell (test/support/doc-shell.ts), or add it to hack/doc-commands-not-run.ts with the reason it cannot run here",
    );
  },
);

test("no command in the not-run list ran: the list says why it cannot", { skip }, () => {
  const done = ran();
  const both = [...done].filter((c) => {
    const entry = notRunEntry(c);
    return entry !== undefined && !mayRun(entry, process.env);
  });
  assert.deepEqual(both, []);
});
