import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatTime, fromMillis, parseDuration, parseTime } from "./go-time.ts";

describe("times as Go's time.Time reads and writes them", () => {
  const roundTrips: [string, string][] = [
    ["2021-04-05T18:10:10Z", "2021-04-05T18:10:10Z"],
    ["2021-04-05T18:10:10.500Z", "2021-04-05T18:10:10.5Z"],
    ["2021-04-05T18:10:10.123456789Z", "2021-04-05T18:10:10.123456789Z"],
    ["2021-04-05T20:10:10+02:00", "2021-04-05T18:10:10Z"],
    ["2021-04-05T17:40:10-00:30", "2021-04-05T18:10:10Z"],
    ["1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z"],
  ];
  for (const [input, output] of roundTrips) {
    test(`${input} is written ${output} (RFC3339Nano in UTC)`, () => {
      const ns = parseTime(input);
      assert.ok(ns !== undefined);
      assert.equal(formatTime(ns), output);
    });
  }

  test("an absent time is Go's zero time", () => {
    const zero = parseTime(undefined);
    assert.ok(zero !== undefined);
    assert.equal(formatTime(zero), "0001-01-01T00:00:00Z");
    assert.equal(parseTime(null), zero);
  });

  test("an unreadable time is undefined", () => {
    assert.equal(parseTime("yesterday"), undefined);
    assert.equal(parseTime("2021-04-05 18:10:10"), undefined);
  });

  test("a clock reading in milliseconds compares with parsed times", () => {
    assert.equal(fromMillis(Date.parse("2021-04-05T18:10:10Z")), parseTime("2021-04-05T18:10:10Z"));
  });
});

describe("durations as Go's time.ParseDuration reads them, in nanoseconds", () => {
  const cases: [string, number | undefined][] = [
    ["15s", 15_000_000_000],
    ["1m0s", 60_000_000_000],
    ["10.011s", 10_011_000_000],
    ["1h30m", 5_400_000_000_000],
    ["500ms", 500_000_000],
    ["1.5us", 1_500],
    ["1.5\u00b5s", 1_500],
    ["7ns", 7],
    ["0", 0],
    ["-1s", -1_000_000_000],
    ["", undefined],
    ["15", undefined],
    ["1d", undefined],
    ["s", undefined],
    ["1s junk", undefined],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} is ${String(expected)}`, () => {
      assert.equal(parseDuration(input), expected);
    });
  }
});
