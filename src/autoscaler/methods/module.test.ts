import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import type { ModuleConfig } from "../../api/autoscaler-config.ts";
import { MethodError, type RunnerContext } from "./method.ts";
import { moduleRunner } from "./module.ts";

const dir = mkdtempSync(join(tmpdir(), "cpa-module-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const ctx: RunnerContext = { configDir: dir, log: pino({ level: "silent" }) };

/** Writes a module into the config folder; each test uses its own file, as imports are cached by URL. */
function module(name: string, source: string): string {
  writeFileSync(join(dir, name), source);
  return name;
}

function run(config: ModuleConfig, input: unknown, timeoutMs = 2000, signal?: AbortSignal): Promise<string> {
  return moduleRunner(config, timeoutMs, ctx).run(JSON.stringify(input), signal);
}

async function methodError(promise: Promise<unknown>): Promise<MethodError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MethodError, `expected a MethodError, got ${String(err)}`);
    return err;
  }
  return assert.fail("expected the run to fail");
}

describe("module method", () => {
  const cases: { name: string; config: ModuleConfig; input: unknown; output: string }[] = [
    {
      name: "the default export gets the input as an object; a number is sent as its JSON text",
      config: {
        path: module("default.mjs", "export default ({ resource }) => resource.metadata.name.length;"),
      },
      input: { resource: { metadata: { name: "web-app" } }, runType: "scaler" },
      output: "7",
    },
    {
      name: "a named export is called when export is set; an object result is sent as JSON",
      config: {
        path: module(
          "named.js",
          "export function evaluate({ metrics }) { return { targetReplicas: metrics.length }; }\nexport default () => 'wrong';",
        ),
        export: "evaluate",
      },
      input: { metrics: [{ resource: "a", value: "1" }, { resource: "b" }], resource: {}, runType: "scaler" },
      output: '{"targetReplicas":2}',
    },
    {
      name: "a TypeScript module runs with its types stripped; a string result comes back as is",
      config: {
        path: module(
          "metric.ts",
          [
            "interface Input { resource: { n: number } }",
            "export default function metric(input: Input): string {",
            "  return `${input.resource.n * 2}\\n`;",
            "}",
          ].join("\n"),
        ),
      },
      input: { resource: { n: 21 } },
      output: "42\n",
    },
    {
      name: "an async function is awaited",
      config: {
        path: module(
          "async.mjs",
          "export default async (input) => { await new Promise((r) => setTimeout(r, 10)); return { seen: input.runType }; };",
        ),
      },
      input: { runType: "api" },
      output: '{"seen":"api"}',
    },
    {
      name: "the function gets an abort signal in its options",
      config: {
        path: module(
          "signal.mjs",
          "export default (_input, { signal }) => signal instanceof AbortSignal && !signal.aborted;",
        ),
      },
      input: {},
      output: "true",
    },
    {
      name: "a hook that returns nothing has no output",
      config: { path: module("hook.mjs", "export function preScale() {}"), export: "preScale" },
      input: {},
      output: "",
    },
  ];
  for (const { name, config, input, output } of cases) {
    test(name, async () => {
      assert.equal(await run(config, input), output);
    });
  }

  test("a missing module fails with code module-load, naming the path", async () => {
    const err = await methodError(run({ path: "missing.mjs" }, {}));
    assert.equal(err.code, "module-load");
    assert.equal(err.message, `could not load module ${join(dir, "missing.mjs")}: no such file`);
  });

  test("a module that is missing at the first run is loaded once it appears", async () => {
    const runner = moduleRunner({ path: "late.mjs" }, 2000, ctx);
    await methodError(runner.run("{}"));
    module("late.mjs", "export default () => 'here';");
    assert.equal(await runner.run("{}"), "here");
  });

  const badExports: { name: string; source: string; export: string; message: string }[] = [
    {
      name: "a missing export fails with code module-load, listing the module's exports",
      source: "export function metric() {}\nexport const version = 2;",
      export: "evaluate",
      message: `export "evaluate" of ${join(dir, "bad-0.mjs")} does not exist (its exports: metric, version)`,
    },
    {
      name: "a missing default export says when the module exports nothing at all",
      source: "const unused = 1;",
      export: "default",
      message: `the default export of ${join(dir, "bad-1.mjs")} does not exist (it exports nothing)`,
    },
    {
      name: "an export that is not a function fails with code module-load, saying what it is",
      source: "export const answer = 42;",
      export: "answer",
      message: `export "answer" of ${join(dir, "bad-2.mjs")} is a number, not a function (its exports: answer)`,
    },
  ];
  badExports.forEach(({ name, source, export: exportName, message }, i) => {
    test(name, async () => {
      const err = await methodError(run({ path: module(`bad-${i}.mjs`, source), export: exportName }, {}));
      assert.equal(err.code, "module-load");
      assert.equal(err.message, message);
    });
  });

  test("a function that throws fails with code module-threw and its message", async () => {
    const path = module("throws.mjs", "export default () => { throw new Error(\"no 'numPods' label\"); };");
    const err = await methodError(run({ path }, {}));
    assert.equal(err.code, "module-threw");
    assert.equal(err.message, `the default export of ${join(dir, path)} threw: no 'numPods' label`);
    assert.ok(err.cause instanceof Error);
  });

  test("a rejected promise fails with code module-threw", async () => {
    const path = module("rejects.mjs", "export default async () => { throw new Error('backend down'); };");
    const err = await methodError(run({ path }, {}));
    assert.equal(err.code, "module-threw");
    assert.match(err.message, /threw: backend down$/);
  });

  test("a function that does not finish in time fails with code timeout, and its signal is aborted", async () => {
    const path = module(
      "hangs.mjs",
      [
        "export const seen = { aborted: false };",
        "export default (_input, { signal }) => new Promise(() => {",
        "  signal.addEventListener('abort', () => { seen.aborted = true; });",
        "});",
      ].join("\n"),
    );
    const started = Date.now();
    const err = await methodError(run({ path }, {}, 200));
    assert.equal(err.code, "timeout");
    assert.match(err.message, /did not finish within 200 ms; it was abandoned/);
    assert.ok(Date.now() - started < 1500);
    const mod = (await import(pathToFileURL(join(dir, path)).href)) as { seen: { aborted: boolean } };
    assert.equal(mod.seen.aborted, true);
  });

  test("aborting the run rejects with the abort reason", async () => {
    const path = module("hangs-abort.mjs", "export default () => new Promise(() => {});");
    const controller = new AbortController();
    const pending = run({ path }, {}, 10_000, controller.signal);
    setTimeout(() => {
      controller.abort();
    }, 50);
    await assert.rejects(pending, { name: "AbortError" });
  });
});

describe("module method: packages", () => {
  test("a module imports a package installed beside it, as docs/writing-an-autoscaler.md says", async () => {
    const pkg = join(dir, "node_modules", "queue-math");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, "package.json"),
      JSON.stringify({ name: "queue-math", type: "module", exports: "./index.js" }),
    );
    writeFileSync(
      join(pkg, "index.js"),
      "export const perReplica = (jobs, each) => Math.ceil(jobs / each);\n",
    );
    const path = module(
      "with-package.ts",
      'import { perReplica } from "queue-math";\n' +
        "export const evaluate = (input: { metrics: { value: string }[] }) => " +
        "({ targetReplicas: perReplica(Number(input.metrics[0]?.value), 5) });\n",
    );
    const output = await run({ path, export: "evaluate" }, { metrics: [{ resource: "web", value: "12" }] });
    assert.equal(output, '{"targetReplicas":3}');
  });
});
