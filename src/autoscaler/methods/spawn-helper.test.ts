import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import {
  encodeFrame,
  encodeRunRequest,
  FRAME,
  FrameDecoder,
  HelperSpawner,
  NATIVE_HELPER_PATH,
  nativeHelper,
  type HelperSpawnerOptions,
  type Frame,
  type FrameType,
} from "./spawn-helper.ts";
import { isAlive, waitFor } from "./test-fixtures.ts";
import { directSpawner, type SpawnedRun, type Spawner } from "./spawn.ts";

const dir = mkdtempSync(join(tmpdir(), "cpa-spawn-helper-"));
const spawners: HelperSpawner[] = [];
after(async () => {
  await Promise.all(spawners.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A HelperSpawner that is closed when the file's tests are done. */
function helperSpawner(options: HelperSpawnerOptions): HelperSpawner {
  const spawner = new HelperSpawner(options);
  spawners.push(spawner);
  return spawner;
}

/**
 * The native helper, built here as `npm run build:native` builds it (cc); a
 * machine without a C compiler fails these tests rather than skip them.
 */
function buildNativeHelper(): string {
  const out = join(dir, "cpa-spawn-helper");
  const source = fileURLToPath(new URL("./spawn-helper.c", import.meta.url));
  execFileSync("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", out, source], { stdio: "inherit" });
  return out;
}
const NATIVE = buildNativeHelper();

/** Both helpers must behave alike: every test of the spawner runs with each. */
const FLAVOURS: [string, HelperSpawnerOptions][] = [
  ["the Perl helper", { native: null }],
  ["the native helper", { native: NATIVE }],
];

/** The program a process runs (its /proc/PID/exe). */
function exeOf(pid: number): string {
  return readlinkSync(`/proc/${pid}/exe`);
}

interface Result {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: string | null;
}

interface Started {
  run: SpawnedRun;
  /** Resolves with how the program ended; rejects with the spawner's error. */
  done: Promise<Result>;
  stdout(): string;
}

function start(spawner: Spawner, entrypoint: string, args: string[], input = ""): Started {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const { promise, resolve, reject } = Promise.withResolvers<Result>();
  const run = spawner.spawn(entrypoint, args, input, {
    stdout: (chunk) => out.push(chunk),
    stderr: (chunk) => err.push(chunk),
    exit: ({ code, signal }) => {
      resolve({ stdout: text(out), stderr: text(err), code, signal });
    },
    error: reject,
  });
  return { run, done: promise, stdout: () => text(out) };
}

function text(chunks: Buffer[]): string {
  return Buffer.concat(chunks).toString("utf8");
}

function sh(spawner: Spawner, line: string, input = ""): Promise<Result> {
  return start(spawner, "/bin/sh", ["-c", line], input).done;
}

async function rejection(promise: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  return assert.fail("expected the run to fail");
}

/** Starts a shell whose grandchild `sleep 30` prints its pid; resolves once it has. */
async function startHanging(spawner: Spawner): Promise<Started & { grandchild: number }> {
  const started = start(spawner, "/bin/sh", ["-c", "sleep 30 & echo $!; wait"]);
  // Unhandled until the test awaits it; the run may end before then.
  started.done.catch(() => undefined);
  await waitFor(() => started.stdout().endsWith("\n"), "the grandchild's pid is printed");
  return { ...started, grandchild: Number(started.stdout().trim()) };
}

/** A deterministic stand-in for a multi-MB stage input: numbered lines, so any lost or moved chunk shows. */
function bigInput(bytes: number): string {
  const lines = Array.from(
    { length: Math.ceil(bytes / 8) },
    (_, i) => `${i.toString(36).padStart(7, "0")}\n`,
  );
  return lines.join("").slice(0, bytes);
}

/** CPU time a process has used, in clock ticks (utime + stime in /proc/PID/stat). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
    .replace(/^.*\) /, "")
    .split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** A helper that misbehaves could leave a run hanging: fail the test instead of the whole run. */
const bounded = { timeout: 20_000 };

describe("frames", () => {
  test("frames cut at every byte boundary decode to the frames encoded", () => {
    const sent: [FrameType, number, Buffer][] = [
      [FRAME.ready, 0, Buffer.alloc(0)],
      [FRAME.stdout, 1, Buffer.from("hello\n")],
      [FRAME.stderr, 0xffffffff, Buffer.from([0, 255, 10, 13])],
      [FRAME.exit, 7, Buffer.from([1, 9])],
      [FRAME.stdout, 2, Buffer.alloc(70_000, 0x61)],
    ];
    const stream = Buffer.concat(sent.map(([type, id, payload]) => encodeFrame(type, id, payload)));
    const expected = sent.map(([type, id, payload]) => ({ type, id, payload: [...payload] }));
    for (const cut of [1, 2, 8, 9, 10, 4096, stream.length]) {
      const decoder = new FrameDecoder();
      const frames: Frame[] = [];
      for (let at = 0; at < stream.length; at += cut)
        frames.push(...decoder.push(stream.subarray(at, at + cut)));
      assert.deepEqual(
        frames.map((f) => ({ type: f.type, id: f.id, payload: [...f.payload] })),
        expected,
        `cut every ${cut} bytes`,
      );
    }
  });

  test("a run request carries argc, each argument as length and UTF-8 bytes, then the input", () => {
    const frame = encodeRunRequest(5, ["/bin/échø", "", "a b"], '{"x":"ü"}');
    const [decoded] = new FrameDecoder().push(frame);
    assert.ok(decoded);
    assert.equal(decoded.type, FRAME.run);
    assert.equal(decoded.id, 5);
    const p = decoded.payload;
    const argv: string[] = [];
    let at = 4;
    for (let i = 0; i < p.readUInt32BE(0); i++) {
      const length = p.readUInt32BE(at);
      argv.push(p.toString("utf8", at + 4, at + 4 + length));
      at += 4 + length;
    }
    assert.deepEqual(argv, ["/bin/échø", "", "a b"]);
    assert.equal(p.toString("utf8", at), '{"x":"ü"}');
  });
});

for (const [flavour, base] of FLAVOURS) {
  describe(`HelperSpawner, ${flavour}`, () => {
    const make = (options: HelperSpawnerOptions = {}) => helperSpawner({ ...base, ...options });
    const spawner = make();

    test("a program runs in the helper's child, not Node's", bounded, async () => {
      const result = await sh(spawner, "echo $PPID");
      const pid = spawner.helperPid;
      assert.ok(pid !== undefined);
      assert.equal(result.stdout, `${pid}\n`);
      assert.equal(spawner.direct, false);
      if (base.native) assert.equal(exeOf(pid), base.native);
      else assert.match(exeOf(pid), /\/perl[\d.]*$/);
    });

    // What a program sees and how it ends must not depend on the spawner.
    const parity: [string, string, string[], string?][] = [
      ["exit code", "/bin/sh", ["-c", "echo out; echo err >&2; exit 7"]],
      ["exit code 255", "/bin/sh", ["-c", "exit 255"]],
      ["killed by a signal", "/bin/sh", ["-c", "kill -USR1 $$"]],
      ["stdin", "/bin/sh", ["-c", "cat; echo"], "the input"],
      ["arguments verbatim", "/usr/bin/printf", ["[%s]", "", "ä b", "$HOME", "*"]],
      ["signal dispositions and mask", "/bin/grep", ["^Sig\\(Ign\\|Blk\\)", "/proc/self/status"]],
      ["open files", "/bin/sh", ["-c", "ls /proc/$$/fd"]],
      ["environment", "/bin/sh", ["-c", "env | sort"]],
      ["working directory", "/bin/pwd", []],
    ];
    for (const [what, entrypoint, args, input] of parity) {
      test(`the program sees and ends as with directSpawner: ${what}`, bounded, async () => {
        const viaHelper = await start(spawner, entrypoint, args, input).done;
        const direct = await start(directSpawner, entrypoint, args, input).done;
        assert.deepEqual(viaHelper, direct);
      });
    }

    test(
      "a session and process group of its own: the program's pid, pgid and sid are one",
      bounded,
      async () => {
        const { stdout } = await sh(spawner, "cut -d' ' -f1,5,6 /proc/$$/stat; :");
        const [pid, pgid, sid] = stdout.trim().split(" ");
        assert.ok(pid !== undefined && pid !== "");
        assert.equal(pgid, pid);
        assert.equal(sid, pid);
      },
    );

    for (const [what, entrypoint, code] of [
      ["a program that does not exist", "no-such-program-cpa", "ENOENT"],
      ["a directory", dir, "EACCES"],
    ] as const) {
      test(`${what} fails as child_process does (${code})`, bounded, async () => {
        const viaHelper = await rejection(start(spawner, entrypoint, []).done);
        const direct = await rejection(start(directSpawner, entrypoint, []).done);
        assert.equal(viaHelper.code, code);
        assert.equal(viaHelper.message, direct.message);
        assert.equal(viaHelper.errno, direct.errno);
      });
    }

    test("50 runs at once each get their own input, arguments and output", bounded, async () => {
      const runs = Array.from(
        { length: 50 },
        (_, i) =>
          start(
            spawner,
            "/bin/sh",
            [
              "-c",
              'read -r line; sleep 0.0$(($2 % 7)); echo "$line $1"; echo "err $1" >&2',
              "sh",
              `arg${i}`,
              `${i}`,
            ],
            `input${i}\n`,
          ).done,
      );
      const results = await Promise.all(runs);
      results.forEach((result, i) => {
        assert.deepEqual(result, {
          stdout: `input${i} arg${i}\n`,
          stderr: `err arg${i}\n`,
          code: 0,
          signal: null,
        });
      });
    });

    test(
      "runs at once spread over up to maxHelpers helpers; runs one after another use one",
      bounded,
      async () => {
        const spawner = make({ maxHelpers: 2 });
        // Each run outlives the spawning of the others, so every helper is busy when the next run comes.
        const parents = await Promise.all(
          Array.from({ length: 6 }, async () => sh(spawner, "sleep 0.3; echo $PPID")),
        );
        const pids = spawner.helperPids;
        assert.equal(pids.length, 2);
        assert.deepEqual(new Set(parents.map((r) => Number(r.stdout))), new Set(pids));
        for (const pid of pids) {
          assert.equal(parents.filter((r) => Number(r.stdout) === pid).length, 3, `helper ${pid} took half`);
        }
        for (let i = 0; i < 3; i++) assert.equal((await sh(spawner, "echo $PPID")).stdout, `${pids[0]}\n`);
        assert.deepEqual(spawner.helperPids, pids, "no helper was started for them");
      },
    );

    test("with maxHelpers 1, runs at once all go through one helper", bounded, async () => {
      const spawner = make({ maxHelpers: 1 });
      const parents = await Promise.all(
        Array.from({ length: 4 }, async () => sh(spawner, "sleep 0.2; echo $PPID")),
      );
      assert.equal(spawner.helperPids.length, 1);
      assert.deepEqual(new Set(parents.map((r) => r.stdout)), new Set([`${spawner.helperPid}\n`]));
    });

    test("a multi-MB input comes back whole through cat", bounded, async () => {
      const input = bigInput(8 * 1024 * 1024);
      const result = await start(spawner, "/bin/cat", [], input).done;
      assert.equal(result.code, 0);
      assert.equal(result.stdout.length, input.length);
      assert.ok(result.stdout === input, "cat's output is its input");
    });

    test(
      "a program that never reads a multi-MB input succeeds, and does not hold up other runs",
      bounded,
      async () => {
        const flag = join(dir, "unblock");
        // Waits without reading stdin until the flag exists; its input fills the pipe long before.
        const stuck = sh(
          spawner,
          `while [ ! -e ${flag} ]; do sleep 0.01; done; echo done`,
          bigInput(8 << 20),
        );
        // Were the helper blocked writing the stuck program's stdin, these would never end.
        const others = await Promise.all([
          sh(spawner, "echo fast"),
          start(spawner, "/bin/cat", [], "x").done,
        ]);
        assert.deepEqual(
          others.map((r) => r.stdout),
          ["fast\n", "x"],
        );
        writeFileSync(flag, "");
        assert.deepEqual(await stuck, { stdout: "done\n", stderr: "", code: 0, signal: null });
      },
    );

    test("kill() SIGKILLs the run's whole process group, grandchildren included", bounded, async () => {
      const hanging = await startHanging(spawner);
      assert.ok(isAlive(hanging.grandchild));
      hanging.run.kill();
      const result = await hanging.done;
      assert.equal(result.signal, "SIGKILL");
      assert.equal(result.code, null);
      await waitFor(() => !isAlive(hanging.grandchild), `sleep (pid ${hanging.grandchild}) is gone`);
      hanging.run.kill(); // after the end: nothing to do, no error
    });

    test("an idle helper sleeps rather than spinning", bounded, async () => {
      await sh(spawner, "true");
      const pid = spawner.helperPid;
      assert.ok(pid !== undefined);
      const before = cpuTicks(pid);
      await sleep(500);
      // A spinning helper would use about 50 ticks (at 100 per second) in this time.
      assert.ok(cpuTicks(pid) - before < 10, "the helper used almost no CPU while idle");
    });
  });

  describe(`HelperSpawner when ${flavour} fails`, () => {
    const make = (options: HelperSpawnerOptions = {}) => helperSpawner({ ...base, ...options });
    test(
      "when the helper dies mid-run, its runs fail with a spawn error, their programs are killed, and later runs work",
      bounded,
      async () => {
        const spawner = make();
        const hanging = await Promise.all([
          startHanging(spawner),
          startHanging(spawner),
          startHanging(spawner),
        ]);
        // The runs may be spread over more than one helper: all of them die.
        const first = spawner.helperPids;
        assert.ok(first.length > 0);
        for (const pid of first) {
          assert.ok(pid !== undefined);
          process.kill(pid, "SIGKILL");
        }
        for (const run of hanging) {
          const err = await rejection(run.done);
          assert.equal(err.code, "ERR_SPAWN_HELPER_GONE");
          assert.match(err.message, /the spawn helper exited while the program ran/);
          await waitFor(() => !isAlive(run.grandchild), `sleep (pid ${run.grandchild}) is gone`);
        }
        assert.deepEqual(await sh(spawner, "echo again"), {
          stdout: "again\n",
          stderr: "",
          code: 0,
          signal: null,
        });
        assert.notEqual(spawner.helperPid, undefined);
        assert.ok(!first.includes(spawner.helperPid), "a new helper runs it");
        assert.equal(spawner.direct, false);
      },
    );

    test("after the helper died three times, runs go directly", bounded, async () => {
      const spawner = make();
      for (let death = 1; death <= 3; death++) {
        assert.equal(spawner.direct, false);
        const hanging = await startHanging(spawner);
        const pid = spawner.helperPid;
        assert.ok(pid !== undefined);
        process.kill(pid, "SIGKILL");
        await rejection(hanging.done);
      }
      assert.equal(spawner.direct, true);
      assert.equal((await sh(spawner, "echo $PPID")).stdout, `${process.pid}\n`, "Node itself started it");
      assert.equal(spawner.helperPid, undefined);
    });

    test("close() ends the helper; a later run starts a new one", bounded, async () => {
      const spawner = make();
      await sh(spawner, "true");
      const pid = spawner.helperPid;
      assert.ok(pid !== undefined);
      await spawner.close();
      await waitFor(() => !isAlive(pid), "the helper is gone");
      assert.equal(spawner.helperPid, undefined);
      assert.equal((await sh(spawner, "echo new")).stdout, "new\n");
      assert.notEqual(spawner.helperPid, pid);
      assert.equal(spawner.direct, false, "closing is not dying");
    });

    test("the helper never keeps Node alive, and exits when Node does", bounded, async () => {
      // A Node process that runs one program through a helper and then has nothing left to do.
      const program = `
      import { HelperSpawner } from ${JSON.stringify(new URL("./spawn-helper.ts", import.meta.url).href)};
      const spawner = new HelperSpawner(${JSON.stringify(base)});
      spawner.spawn("/bin/true", [], "", {
        stdout() {}, stderr() {}, error(err) { throw err; },
        exit() { console.log(spawner.helperPid); },
      });
    `;
      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", program], {
        timeout: 15_000,
      });
      const helperPid = Number(stdout.trim());
      assert.ok(helperPid > 0, `the child printed the helper's pid, got ${JSON.stringify(stdout)}`);
      await waitFor(() => !isAlive(helperPid), `the helper (pid ${helperPid}) is gone`);
    });
  });
}

describe("HelperSpawner when no helper can run", () => {
  test("without perl, runs go directly, those sent before that was known too", bounded, async () => {
    const spawner = helperSpawner({ native: null, perl: join(dir, "no-such-perl") });
    const results = await Promise.all([sh(spawner, "echo $PPID"), start(spawner, "/bin/cat", [], "in").done]);
    assert.deepEqual(
      results.map((r) => r.stdout),
      [`${process.pid}\n`, "in"],
    );
    assert.equal(spawner.direct, true);
    assert.equal((await sh(spawner, "echo later")).stdout, "later\n");
  });

  test(
    "a perl that exits before the helper is ready: its runs go directly and nothing runs twice",
    bounded,
    async () => {
      const brokenPerl = join(dir, "broken-perl");
      writeFileSync(brokenPerl, "#!/bin/sh\nexit 2\n");
      chmodSync(brokenPerl, 0o755);
      const counter = join(dir, "ran");
      const spawner = helperSpawner({ native: null, perl: brokenPerl });
      const result = await sh(spawner, `echo x >> ${counter}; echo ok`);
      assert.equal(result.stdout, "ok\n");
      assert.equal(readFileSync(counter, "utf8"), "x\n");
      assert.equal(spawner.direct, true);
    },
  );

  test(
    "a native helper that cannot start leaves the Perl helper: the runs sent before it was known run there, once",
    bounded,
    async () => {
      const broken = join(dir, "broken-native");
      writeFileSync(broken, "#!/bin/sh\nexit 2\n");
      chmodSync(broken, 0o755);
      const counter = join(dir, "ran-native");
      for (const native of [join(dir, "no-such-helper"), broken]) {
        rmSync(counter, { force: true });
        const spawner = helperSpawner({ native });
        const results = await Promise.all([
          sh(spawner, `echo x >> ${counter}; echo $PPID`),
          start(spawner, "/bin/cat", [], "in").done,
        ]);
        assert.equal(results[1].stdout, "in");
        assert.equal(readFileSync(counter, "utf8"), "x\n", native);
        const pid = spawner.helperPid;
        assert.ok(pid !== undefined);
        assert.equal(results[0].stdout, `${pid}\n`);
        assert.match(exeOf(pid), /\/perl[\d.]*$/);
        assert.equal(spawner.native, null);
        assert.equal(spawner.direct, false);
      }
    },
  );
});

describe("nativeHelper", () => {
  test("$CPA_SPAWN_HELPER names it; empty, none", () => {
    assert.equal(nativeHelper({ CPA_SPAWN_HELPER: "/x/helper" }), "/x/helper");
    assert.equal(nativeHelper({ CPA_SPAWN_HELPER: "" }), undefined);
  });

  test("else dist/libexec/cpa-spawn-helper under the nearest package.json above the module, if executable", () => {
    const root = join(dir, "app");
    mkdirSync(join(root, "dist", "bundle"), { recursive: true });
    mkdirSync(join(root, "dist", "libexec"), { recursive: true });
    writeFileSync(join(root, "package.json"), "{}");
    const from = pathToFileURL(join(root, "dist", "bundle", "chunk.js")).href;
    assert.equal(nativeHelper({}, from), undefined, "absent");
    const helper = join(root, NATIVE_HELPER_PATH);
    writeFileSync(helper, "", { mode: 0o644 });
    assert.equal(nativeHelper({}, from), undefined, "not executable");
    chmodSync(helper, 0o755);
    assert.equal(nativeHelper({}, from), helper);
  });
});
