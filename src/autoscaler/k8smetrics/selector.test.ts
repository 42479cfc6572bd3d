import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { labelSelectorString, SelectorError } from "./selector.ts";

describe("label selectors rendered as Go's labels.Selector.String()", () => {
  const cases: [string, unknown, string][] = [
    ["no selector is empty", undefined, ""],
    ["a null selector is empty", null, ""],
    ["an empty selector is empty", {}, ""],
    ["matchLabels are sorted by key", { matchLabels: { tier: "web", app: "shop" } }, "app=shop,tier=web"],
    [
      "In and NotIn list their values sorted",
      {
        matchExpressions: [
          { key: "env", operator: "In", values: ["staging", "prod"] },
          { key: "zone", operator: "NotIn", values: ["b", "a", "b"] },
        ],
      },
      "env in (prod,staging),zone notin (a,b)",
    ],
    ["Exists is the bare key", { matchExpressions: [{ key: "canary", operator: "Exists" }] }, "canary"],
    [
      "DoesNotExist is the key with !",
      { matchExpressions: [{ key: "canary", operator: "DoesNotExist", values: [] }] },
      "!canary",
    ],
    [
      "matchLabels and matchExpressions mix, sorted by key",
      {
        matchLabels: { "example.com/queue": "orders" },
        matchExpressions: [{ key: "app", operator: "In", values: ["shop"] }],
      },
      "app in (shop),example.com/queue=orders",
    ],
  ];
  for (const [name, selector, expected] of cases) {
    test(name, () => {
      assert.equal(labelSelectorString(selector), expected);
    });
  }

  const bad: [string, unknown, RegExp][] = [
    [
      "an unknown operator",
      { matchExpressions: [{ key: "a", operator: "Equals", values: ["x"] }] },
      /not a label selector operator/,
    ],
    ["In without values", { matchExpressions: [{ key: "a", operator: "In" }] }, /In needs values/],
    [
      "Exists with values",
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      /takes no values/,
    ],
    ["a key with a space", { matchLabels: { "a b": "x" } }, /not a valid label key/],
    ["a value with a comma", { matchLabels: { a: "x,y" } }, /not a valid value/],
    ["a value that is not a string", { matchLabels: { a: 1 } }, /must be a string/],
    ["matchExpressions that are not a list", { matchExpressions: {} }, /must be a list/],
    ["a selector that is not an object", "app=web", /must be an object/],
  ];
  for (const [name, selector, message] of bad) {
    test(`${name} is refused`, () => {
      assert.throws(
        () => labelSelectorString(selector),
        (err: unknown) => {
          assert.ok(err instanceof SelectorError);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
