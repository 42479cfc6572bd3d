import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { installPlan, TOOLS, type Host } from "./tools.ts";

describe("installPlan", () => {
  const buildah = TOOLS.filter((t) => t.command === "buildah");
  const cases: [string, Host, RegExp | string[] | "ready"][] = [
    ["nothing missing", { root: true, debian: true }, "ready"],
    ["root on Debian installs with apt-get", { root: true, debian: true }, ["buildah"]],
    [
      "not root on Debian names the apt-get command",
      { root: false, debian: true },
      /\(apt-get install buildah\).*as root/,
    ],
    [
      "elsewhere names the tools and versions",
      { root: true, debian: false },
      /missing buildah \(builds the Dockerfile.*buildah >= 1\.28/,
    ],
  ];
  for (const [what, host, want] of cases) {
    test(what, () => {
      const plan = installPlan(want === "ready" ? [] : buildah, host);
      if (want === "ready") assert.deepEqual(plan, { kind: "ready" });
      else if (Array.isArray(want)) assert.deepEqual(plan, { kind: "apt", packages: want });
      else {
        if (plan.kind !== "manual") assert.fail(`expected a message, got ${plan.kind}`);
        assert.match(plan.message, want);
      }
    });
  }

  test("not root, with every tool there, says that it needs root", () => {
    const plan = installPlan([], { root: false, debian: true });
    if (plan.kind !== "manual") assert.fail(`expected a message, got ${plan.kind}`);
    assert.match(plan.message, /needs root/);
  });

  test("every tool comes from a Debian package of its own name, so one apt-get line installs them all", () => {
    assert.deepEqual(
      TOOLS.map((t) => t.command),
      TOOLS.map((t) => t.debianPackage),
    );
  });
});
