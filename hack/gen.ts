// `npm run gen` writes every generated file; `npm run verify` (gen --check) fails if any is stale.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { generatedFiles } from "./generated.ts";
import { repoRoot } from "./plane/config.ts";

const check = process.argv.includes("--check");
const stale: string[] = [];
for (const file of await generatedFiles()) {
  const current = existsSync(file.path) ? readFileSync(file.path, "utf8") : undefined;
  if (current === file.content) continue;
  stale.push(relative(repoRoot, file.path));
  if (!check) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.content);
  }
}
if (check && stale.length > 0) {
  process.stderr.write(`Generated files are stale (run \`npm run gen\` and commit): ${stale.join(", ")}\n`);
  process.exitCode = 1;
} else {
  process.stderr.write(stale.length ? `Wrote ${stale.join(", ")}\n` : "Generated files are up to date.\n");
}
