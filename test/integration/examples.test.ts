// The examples are what users copy: each one is exercised here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seedGuide, seedGuideFromSeeds, seedsAvailable } from "../support/seed-guide.ts";

describe("examples/getting-started", () => {
  test(
    "holds the seed guide's files unchanged",
    { skip: seedsAvailable() ? false : "the seed guide (../shared/seeds) is not beside this checkout" },
    () => {
      assert.deepEqual(seedGuide(), seedGuideFromSeeds());
    },
  );
});
