import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { test } from "node:test";
import { generatedFiles } from "./generated.ts";
import { repoRoot } from "./plane/config.ts";

for (const file of await generatedFiles()) {
  test(`the committed ${relative(repoRoot, file.path)} matches its source (npm run gen)`, () => {
    assert.equal(readFileSync(file.path, "utf8"), file.content);
  });
}
