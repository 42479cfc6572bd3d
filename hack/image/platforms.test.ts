import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ImageError } from "./errors.ts";
import {
  archesToBuild,
  archTag,
  emulationProblem,
  hostArch,
  kernelArch,
  nodeArch,
  parseArches,
} from "./platforms.ts";

const HANDLER = [
  "enabled",
  "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P",
  "flags: PF",
  "offset 0",
].join("\n");

describe("architectures", () => {
  test("Node's and the kernel's names for each", () => {
    assert.deepEqual(
      [nodeArch("amd64"), nodeArch("arm64"), kernelArch("amd64"), kernelArch("arm64")],
      ["x64", "arm64", "x86_64", "aarch64"],
    );
    assert.equal(hostArch("x64"), "amd64");
    assert.equal(hostArch("arm64"), "arm64");
    assert.throws(() => hostArch("s390x"), ImageError);
  });

  test("--arch lists: known names, in the releases' order, each once", () => {
    assert.deepEqual(parseArches("arm64,amd64"), ["amd64", "arm64"]);
    assert.deepEqual(parseArches(" arm64 , arm64"), ["arm64"]);
    assert.throws(() => parseArches("amd64,riscv64"), /not riscv64/);
    assert.throws(() => parseArches(","), /none given/);
  });

  test("another architecture's images carry its name in their tag; the host's keep the plain tag", () => {
    assert.equal(archTag("cpa:0.1.0", "arm64", "amd64"), "cpa:0.1.0-arm64");
    assert.equal(archTag("cpa:0.1.0", "amd64", "amd64"), "cpa:0.1.0");
    assert.equal(archTag("cpa:0.1.0", "amd64", "arm64"), "cpa:0.1.0-amd64");
  });
});

describe("emulationProblem", () => {
  test("the host's own architecture always builds", () => {
    assert.equal(emulationProblem("amd64", "amd64", { mounted: false }), undefined);
  });

  test("another builds through an enabled qemu handler with the F flag", () => {
    assert.equal(emulationProblem("arm64", "amd64", { mounted: true, handler: HANDLER }), undefined);
  });

  const cases: [string, { mounted: boolean; handler?: string }, RegExp][] = [
    ["binfmt_misc not mounted", { mounted: false }, /binfmt_misc is not mounted/],
    ["no handler", { mounted: true }, /no qemu-aarch64 handler is registered/],
    [
      "a disabled handler",
      { mounted: true, handler: HANDLER.replace("enabled", "disabled") },
      /qemu-aarch64 handler .* is disabled/,
    ],
    [
      "a handler without F",
      { mounted: true, handler: HANDLER.replace("flags: PF", "flags: P") },
      /lacks the F \(fix binary\) flag/,
    ],
  ];
  for (const [what, binfmt, message] of cases)
    test(`refused, saying how to fix it: ${what}`, () => {
      const problem = emulationProblem("arm64", "amd64", binfmt) ?? "";
      assert.match(problem, message);
      assert.match(problem, /hack\/enable-arm64\.sh/);
    });
});

describe("archesToBuild", () => {
  const noArm = (a: string): string | undefined => (a === "arm64" ? "binfmt_misc is not mounted" : undefined);

  test("by default, every architecture that builds here, saying why one is left out", () => {
    const lines: string[] = [];
    assert.deepEqual(
      archesToBuild(undefined, noArm, (l) => lines.push(l)),
      ["amd64"],
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /not building arm64 .*--arch.*binfmt_misc is not mounted/);
    assert.deepEqual(
      archesToBuild(
        undefined,
        () => undefined,
        () => undefined,
      ),
      ["amd64", "arm64"],
    );
  });

  test("asked for by name, each must build: a release never ships fewer than it said", () => {
    assert.throws(
      () => archesToBuild(["amd64", "arm64"], noArm, () => undefined),
      (err: Error) => err instanceof ImageError && err.message.includes("arm64: binfmt_misc is not mounted"),
    );
    assert.deepEqual(
      archesToBuild(["amd64"], noArm, () => undefined),
      ["amd64"],
    );
  });
});
