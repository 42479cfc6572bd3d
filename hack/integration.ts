// The integration suite, then the checks that read what it left behind (the
// apiserver's audit log). Run through hack/with-cluster.ts by `npm run
// test:integration`; extra arguments go to the suite's `node --test`.
import { spawnSync } from "node:child_process";

const node = process.execPath;
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
