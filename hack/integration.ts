// The integration suite, then the checks that read what it left behind (the
// apiserver's audit log). Run through hack/with-cluster.ts by `npm run
// test:integration`; extra arguments go to the suite's `node --test`.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "./plane/config.ts";

const node = process.execPath;
// Where the tests note each documented command they run (test/support/doc-shell.ts),
// for the check that all of them ran (test/audit/doc-commands.test.ts). Extra
// arguments (a name pattern, say) run part of the suite, and the check says so.
const coverage = join(cacheDir, "doc-commands");
rmSync(coverage, { recursive: true, force: true });
process.env["CPA_DOC_COVERAGE_DIR"] = coverage;
if (process.argv.length > 2) process.env["CPA_PARTIAL_SUITE"] = "1";
const run = (args: string[]): number => spawnSync(node, args, { stdio: "inherit" }).status ?? 1;

const suite = run([
  "--test",
  "--test-concurrency=1",
  "--test-reporter=spec",
  ...process.argv.slice(2),
  "test/integration/**/*.test.ts",
]);
if (suite !== 0) {
  process.stderr.write(
    "The integration suite failed; the audit checks, which need all of it, did not run.\n",
  );
  process.exitCode = suite;
} else {
  process.exitCode = run(["--test", "--test-reporter=spec", "test/audit/**/*.test.ts"]);
}
