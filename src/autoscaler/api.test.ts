import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDryRun } from "./api.ts";

test("dry_run is read as Go's strconv.ParseBool reads it; absent or empty is false", () => {
  for (const yes of ["1", "t", "T", "true", "TRUE", "True"]) assert.equal(parseDryRun(yes), true);
  for (const no of [null, "", "0", "f", "F", "false", "FALSE", "False"]) assert.equal(parseDryRun(no), false);
  assert.deepEqual(parseDryRun("maybe"), {
    status: 400,
    message: "Invalid format for 'dry_run' query parameter; 'maybe' is not a valid boolean value",
  });
});
