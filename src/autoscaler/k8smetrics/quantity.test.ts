import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { milliValue, QuantityError } from "./quantity.ts";

describe("milliValue, like Go's Quantity.MilliValue", () => {
  const cases: [unknown, number][] = [
    ["250m", 250],
    ["1", 1000],
    ["1.5", 1500],
    [".5", 500],
    ["0", 0],
    ["+5", 5000],
    ["128Mi", 134_217_728_000],
    ["1Gi", 1_073_741_824_000],
    ["1.5Ki", 1_536_000],
    ["1k", 1_000_000],
    ["2M", 2_000_000_000],
    ["2e3", 2_000_000],
    ["2E3", 2_000_000],
    ["1e-3", 1],
    ["2E", 2e21],
    ["1e+2", 100_000],
    ["123456789n", 124],
    ["12345n", 1],
    ["100u", 1],
    ["0.1m", 1],
    ["1500000n", 2],
    ["-250m", -250],
    ["-0.5m", -1],
    [3, 3000],
    [0.25, 250],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} is ${expected} milli-units`, () => {
      assert.equal(milliValue(input), expected);
    });
  }

  test("rounds up anything finer than a milli-unit (metrics-server reports CPU in nanocores)", () => {
    assert.equal(milliValue("4000001n"), 5);
    assert.equal(milliValue("4000000n"), 4);
  });

  for (const bad of [
    "",
    "abc",
    "1K",
    "1.2.3",
    "m",
    "1e",
    "--1",
    "1 Mi",
    "1Mb",
    "1e99999",
    null,
    {},
    Number.NaN,
  ]) {
    test(`${inspect(bad)} is refused`, () => {
      assert.throws(() => milliValue(bad), QuantityError);
    });
  }
});
