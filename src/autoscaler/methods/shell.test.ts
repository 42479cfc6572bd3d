import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import type { ShellConfig } from "../../api/autoscaler-config.ts";
import { MethodError, type RunnerContext } from "./method.ts";
import { createRunner } from "./registry.ts";
import { shellRunner } from "./shell.ts";
import { HelperSpawner } from "./spawn-helper.ts";
import { isAlive, waitFor } from "./test-fixtures.ts";
import { directSpawner, type Spawner } from "./spawn.ts";

const limits = (timeoutMs: number) => ({ timeoutMs, maxOutputBytes: 16 * 1024 * 1024 });

const dir = mkdtempSync(join(tmpdir(), "cpa-shell-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function context(spawner: Spawner, lines: string[] = []): RunnerContext {
  return {
    configDir: dir,
    log: pino({ level: "info" }, { write: (line: string) => lines.push(line) }),
    spawner,
  };
}

function script(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const failingMetric = script(
  "failing-metric.py",
  `import sys\nsys.stderr.write("No 'numPods' label on resource being managed\\n")\nsys.exit(1)\n`,
);
const doubleMetric = script(
  "double-metric.py",
  `import json, sys\nprint(json.load(sys.stdin)["resource"]["n"] * 2)\n`,
);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.fail("expected the run to fail");
}

async function methodError(promise: Promise<unknown>): Promise<MethodError> {
  const err = await rejection(promise);
  assert.ok(err instanceof MethodError, `expected a MethodError, got ${String(err)}`);
  return err;
}

/** A script that starts `sleep 30` in a child, writes the child's pid to a file and waits for it. */
function hangingScript(pidFile: string): ShellConfig {
  return { entrypoint: "/bin/sh", command: ["-c", `sleep 30 & echo $! > ${pidFile}; wait`] };
}

// Every behaviour holds whichever way the program is started.
const helper = new HelperSpawner();
after(() => helper.close());
const spawners: [string, Spawner][] = [
  ["directSpawner", directSpawner],
  ["HelperSpawner", helper],
];

for (const [label, spawner] of spawners) {
  describe(`shell method (${label})`, () => {
    const outputs: { name: string; config: ShellConfig; input: string; output: string }[] = [
      {
        name: "the stage's JSON reaches the script on stdin and stdout comes back untrimmed",
        config: { entrypoint: "/bin/sh", command: ["-c", "cat; printf '\\n  done  \\n'"] },
        input: '{"runType":"scaler"}',
        output: '{"runType":"scaler"}\n  done  \n',
      },
      {
        name: "a python script reads the input as JSON",
        config: { entrypoint: "python3", command: [doubleMetric] },
        input: '{"resource":{"n":21}}',
        output: "42\n",
      },
      {
        name: "the older single-string form is split on spaces into program and arguments",
        config: `  python3   ${doubleMetric} `,
        input: '{"resource":{"n":4}}',
        output: "8\n",
      },
      {
        name: "a script that does not read stdin still succeeds (EPIPE is not an error)",
        config: { entrypoint: "/bin/sh", command: ["-c", "echo ignored-input"] },
        input: JSON.stringify({ big: "x".repeat(4 * 1024 * 1024) }),
        output: "ignored-input\n",
      },
      {
        name: "output a background child writes after the program exited still counts, until stdout closes",
        config: { entrypoint: "/bin/sh", command: ["-c", "exec 2>&-; (sleep 0.2; echo late) &"] },
        input: "{}",
        output: "late\n",
      },
      {
        name: "a lot of output arrives whole",
        config: {
          entrypoint: "/bin/sh",
          command: ["-c", "head -c 3000000 /dev/zero | tr '\\0' x; echo err >&2"],
        },
        input: "{}",
        output: "x".repeat(3_000_000),
      },
      {
        name: "no shell is implied: arguments reach the program verbatim",
        config: { entrypoint: "/bin/echo", command: ["$HOME", "a  b", "*"] },
        input: "{}",
        output: "$HOME a  b *\n",
      },
    ];
    for (const { name, config, input, output } of outputs) {
      test(name, async () => {
        assert.equal(await shellRunner(config, limits(5000), false, context(spawner)).run(input), output);
      });
    }

    test("a non-zero exit fails with code exit, the exit code and the script's stderr in the message", async () => {
      const err = await methodError(
        shellRunner(
          { entrypoint: "python3", command: [failingMetric] },
          limits(5000),
          false,
          context(spawner),
        ).run("{}"),
      );
      assert.equal(err.code, "exit");
      assert.equal(
        err.message,
        `python3 ${failingMetric} exited with code 1: No 'numPods' label on resource being managed`,
      );
      assert.equal(err.details.exitCode, 1);
      assert.equal(err.details.stderr, "No 'numPods' label on resource being managed\n");
    });

    test("output past maxOutputBytes fails the stage, naming the limit, instead of passing on a cut-off result", async () => {
      const script = { entrypoint: "/bin/sh", command: ["-c", "head -c 300000 /dev/zero | tr '\\0' x"] };
      const err = await methodError(
        shellRunner(script, { timeoutMs: 5000, maxOutputBytes: 100_000 }, false, context(spawner)).run("{}"),
      );
      assert.equal(err.code, "output-too-large");
      assert.match(err.message, /produced more than 100000 bytes \(maxOutputBytes\)/);
      const fits = await shellRunner(
        script,
        { timeoutMs: 5000, maxOutputBytes: 300_000 },
        false,
        context(spawner),
      ).run("{}");
      assert.equal(fits.length, 300_000, "output up to the limit is passed on whole");
    });

    test("a failing script without stderr says so", async () => {
      const err = await methodError(
        shellRunner("/bin/false", limits(5000), false, context(spawner)).run("{}"),
      );
      assert.equal(err.message, "/bin/false exited with code 1 (no stderr)");
    });

    test("a script killed by a signal fails with code signal", async () => {
      const err = await methodError(
        shellRunner(
          { entrypoint: "/bin/sh", command: ["-c", "kill -TERM $$"] },
          limits(5000),
          false,
          context(spawner),
        ).run("{}"),
      );
      assert.equal(err.code, "signal");
      assert.equal(err.details.signal, "SIGTERM");
    });

    test("a program that does not exist fails with code spawn, naming it", async () => {
      const err = await methodError(
        shellRunner(
          { entrypoint: "no-such-program-cpa", command: [] },
          limits(5000),
          false,
          context(spawner),
        ).run("{}"),
      );
      assert.equal(err.code, "spawn");
      assert.match(err.message, /^could not run no-such-program-cpa: no such program/);
    });

    test("a file that is not executable fails with code spawn, permission denied", async () => {
      const notExecutable = script(`not-executable-${label}.sh`, "echo never\n");
      const err = await methodError(
        shellRunner({ entrypoint: notExecutable }, limits(5000), false, context(spawner)).run("{}"),
      );
      assert.equal(err.code, "spawn");
      assert.equal(err.message, `could not run ${notExecutable}: permission denied (is it executable?)`);
    });

    test("a script that hangs is killed at the timeout, with the children it started", async () => {
      const pidFile = join(dir, `timeout-${label}.pid`);
      const started = Date.now();
      const err = await methodError(
        shellRunner(hangingScript(pidFile), limits(300), false, context(spawner)).run("{}"),
      );
      assert.equal(err.code, "timeout");
      assert.equal(
        err.message,
        `/bin/sh -c sleep 30 & echo $! > ${pidFile}; wait did not finish within 300 ms and was killed`,
      );
      assert.ok(Date.now() - started < 2000, "the run should end soon after the timeout");
      const grandchild = Number(readFileSync(pidFile, "utf8"));
      assert.ok(grandchild > 0);
      await waitFor(() => !isAlive(grandchild), `sleep (pid ${grandchild}) is gone`);
    });

    test("aborting the run kills the script and its children and rejects with the abort reason", async () => {
      const pidFile = join(dir, `abort-${label}.pid`);
      const controller = new AbortController();
      const run = shellRunner(hangingScript(pidFile), limits(10_000), false, context(spawner)).run(
        "{}",
        controller.signal,
      );
      await waitFor(
        () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "",
        "the pid file is written",
      );
      controller.abort();
      const err = await rejection(run);
      assert.ok(err instanceof Error);
      assert.equal(err.name, "AbortError");
      const grandchild = Number(readFileSync(pidFile, "utf8"));
      await waitFor(() => !isAlive(grandchild), `sleep (pid ${grandchild}) is gone`);
    });

    test("an already aborted signal fails without starting anything", async () => {
      const marker = join(dir, `never-created-${label}`);
      const err = await rejection(
        shellRunner(
          { entrypoint: "/bin/touch", command: [marker] },
          limits(5000),
          false,
          context(spawner),
        ).run("{}", AbortSignal.abort()),
      );
      assert.ok(err instanceof Error && err.name === "AbortError");
      assert.equal(existsSync(marker), false);
    });

    for (const logStderr of [true, false]) {
      test(`stderr of a successful run is ${logStderr ? "" : "not "}logged when logStderr is ${logStderr}`, async () => {
        const lines: string[] = [];
        const config = { entrypoint: "/bin/sh", command: ["-c", "echo progress >&2; echo 3"] };
        assert.equal(
          await shellRunner(config, limits(5000), logStderr, context(spawner, lines)).run("{}"),
          "3\n",
        );
        const logged = lines.map((l) => JSON.parse(l) as { msg: string; stderr?: string });
        assert.deepEqual(
          logged.map((l) => [l.msg, l.stderr]),
          logStderr ? [["Shell command stderr", "progress\n"]] : [],
        );
      });
    }

    // createRunner: where the original reads it (shell.logStderr), and ours one level up; the original's wins.
    for (const [shell, method, logged] of [
      [true, undefined, true],
      [undefined, true, true],
      [true, false, true],
      [false, true, false],
    ] as const) {
      test(`createRunner: shell.logStderr ${String(shell)}, logStderr ${String(method)}: stderr ${logged ? "" : "not "}logged`, async () => {
        const lines: string[] = [];
        const runner = createRunner(
          {
            type: "shell",
            shell: {
              entrypoint: "/bin/sh",
              command: ["-c", "echo progress >&2; echo 3"],
              ...(shell === undefined ? {} : { logStderr: shell }),
            },
            ...(method === undefined ? {} : { logStderr: method }),
          },
          context(spawner, lines),
        );
        assert.equal(await runner.run("{}"), "3\n");
        assert.equal(
          lines.some((l) => l.includes("Shell command stderr")),
          logged,
        );
      });
    }

    if (spawner === helper) {
      test("these runs went through the helper, not the direct fallback", () => {
        assert.notEqual(helper.helperPid, undefined);
        assert.equal(helper.direct, false);
      });
    }
  });
}
