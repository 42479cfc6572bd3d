// A Spawner that starts programs through resident helper processes (a small
// Perl program, HELPER_SCRIPT below) instead of child_process.spawn. Node's
// spawn forks the whole Node process on the main thread, which costs
// milliseconds of event-loop time per run at our heap size; writing a request
// frame to the helper costs microseconds. The helper forks only itself, a few
// MB. Node keeps the policy: timeouts and output limits stay in shell.ts, which
// asks for a kill; the helper has no clock of its own. Runs one after another
// use one helper; runs in parallel get up to one helper per core.
//
// Two helpers speak the same frames: the native one (spawn-helper.c), which
// the image ships built and which starts programs with posix_spawn, and the
// Perl one, for where it is absent (a checkout that did not build it, an npm
// install). Where neither runs, or helpers keep dying, runs go to directSpawner.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { accessSync, constants as fs, existsSync } from "node:fs";
import { Socket } from "node:net";
import { availableParallelism, constants } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { directSpawner, killGroup, type SpawnedRun, type SpawnHandlers, type Spawner } from "./spawn.ts";

/**
 * The helper, run as `perl -e HELPER_SCRIPT`: Perl 5 and its core modules
 * only (POSIX, Fcntl), which Debian's perl-base, in every Debian image, has.
 */
export const HELPER_SCRIPT = String.raw`# cpa's spawn helper: starts programs for the autoscaler, so that Node does not
# fork its own (large) process for each one. Node and the helper talk over the
# helper's stdin and stdout in frames: type (1 byte), run id (uint32 BE),
# payload length (uint32 BE), payload. Node keeps every clock and limit; the
# helper only starts, feeds, reads, reaps and kills.
#   from Node: R run (argc, argc x (length, bytes), then the input), K kill
#   to Node:   Y ready, S started (pid), O stdout, E stderr,
#              F failed to start (errno), X exited (0 + code, or 1 + signal)
use strict;
use POSIX ();
use Fcntl ();

$0 = 'cpa-spawn-helper';
my $HEADER = 9;
my $CHUNK = 65536;
# Past this much output waiting for Node, programs' output is not read (back-pressure).
my $OUT_HIGH = 1 << 20;

my %runs;      # id => {pid, stdin, stdout, stderr, input, written, status}
my %id_of_pid;
my $in = '';   # bytes from Node not yet parsed
my $out = '';  # frames not yet written to Node
my $poll = 0;

# A program that never reads its stdin must not kill the helper (EPIPE instead).
$SIG{PIPE} = 'IGNORE';
# Only so that select returns (EINTR) as soon as a program exits.
$SIG{CHLD} = sub { };
binmode STDIN;
binmode STDOUT;
nonblocking(\*STDOUT);
frame('Y', 0, '');
step() while 1;

sub nonblocking {
    my ($fh) = @_;
    my $flags = fcntl($fh, Fcntl::F_GETFL(), 0);
    fcntl($fh, Fcntl::F_SETFL(), $flags | Fcntl::O_NONBLOCK());
}

sub frame {
    my ($type, $id, $payload) = @_;
    $out .= pack('a1 N N', $type, $id, length $payload) . $payload;
}

sub again { return $! == POSIX::EAGAIN() || $! == POSIX::EINTR() }

sub step {
    my ($rin, $win) = ('', '');
    vec($rin, 0, 1) = 1;
    vec($win, 1, 1) = 1 if length $out;
    my $waiting = 0;
    for my $r (values %runs) {
        if (length($out) < $OUT_HIGH) {
            vec($rin, fileno($r->{stdout}), 1) = 1 if $r->{stdout};
            vec($rin, fileno($r->{stderr}), 1) = 1 if $r->{stderr};
        }
        vec($win, fileno($r->{stdin}), 1) = 1 if $r->{stdin};
        $waiting = 1 if !$r->{stdout} && !$r->{stderr} && !defined $r->{status};
    }
    # A program that closed its output but has not exited yet: SIGCHLD wakes
    # select, and a short poll covers one that exits just before select starts.
    $poll = !$waiting ? 0 : $poll ? ($poll < 0.05 ? $poll * 2 : 0.05) : 0.0005;
    my ($rout, $wout) = ($rin, $win);
    ($rout, $wout) = ('', '') if select($rout, $wout, undef, $poll || undef) < 0;
    reap() if %id_of_pid;
    read_node() if vec($rout, 0, 1);
    service($_, $rout, $wout) for keys %runs;
    flush();
}

sub read_node {
    my $n = sysread(STDIN, $in, 4 * $CHUNK, length $in);
    return if !defined $n && again();
    # Node closed our stdin or exited: so do we. Programs still running go on
    # by themselves, as they do when Node exits after spawning them directly.
    exit 0 if !$n;
    while (length($in) >= $HEADER) {
        my ($type, $id, $len) = unpack('a1 N N', $in);
        last if length($in) < $HEADER + $len;
        my $payload = substr($in, $HEADER, $len);
        substr($in, 0, $HEADER + $len, '');
        if ($type eq 'R') { start($id, $payload) }
        elsif ($type eq 'K' && $runs{$id}) { kill('-KILL', $runs{$id}{pid}) }
    }
}

sub start {
    my ($id, $payload) = @_;
    my ($off, @argv) = (4);
    for (1 .. unpack('N', $payload)) {
        my $len = unpack('N', substr($payload, $off, 4));
        push @argv, substr($payload, $off + 4, $len);
        $off += 4 + $len;
    }
    substr($payload, 0, $off, '');
    my @pipes;
    for (1 .. 4) {
        my ($r, $w);
        return failed($id, $! + 0) unless pipe($r, $w);
        push @pipes, [$r, $w];
    }
    my ($stdin, $stdout, $stderr, $exec) = @pipes;
    my $pid = fork();
    return failed($id, $! + 0) unless defined $pid;
    child(\@argv, @pipes) if $pid == 0;
    close $stdin->[0];
    close $stdout->[1];
    close $stderr->[1];
    close $exec->[1];
    my $errno = exec_errno($exec->[0]);
    if ($errno) {
        waitpid($pid, 0);
        return failed($id, $errno);
    }
    nonblocking($stdin->[1]);
    my $r = { pid => $pid, stdin => $stdin->[1], stdout => $stdout->[0], stderr => $stderr->[0],
              input => $payload, written => 0 };
    $runs{$id} = $r;
    $id_of_pid{$pid} = $id;
    frame('S', $id, pack('N', $pid));
    feed($r);
}

sub failed {
    my ($id, $errno) = @_;
    frame('F', $id, pack('N', $errno));
}

# The exec pipe is close-on-exec: EOF means the program started, four bytes are
# the errno of a failed exec. Either comes right after the fork.
sub exec_errno {
    my ($fh) = @_;
    my $buf = '';
    while (length($buf) < 4) {
        my $n = sysread($fh, $buf, 4 - length $buf, length $buf);
        next if !defined $n && $! == POSIX::EINTR();
        last if !$n;
    }
    close $fh;
    return length($buf) == 4 ? unpack('N', $buf) : 0;
}

# In the child: a session (and so a process group) of its own, as Node's
# detached spawn does, with the signal dispositions a fresh program expects.
sub child {
    my ($argv, $stdin, $stdout, $stderr, $exec) = @_;
    POSIX::setsid();
    $SIG{PIPE} = 'DEFAULT';
    $SIG{CHLD} = 'DEFAULT';
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new());
    if (defined POSIX::dup2(fileno($stdin->[0]), 0)
        && defined POSIX::dup2(fileno($stdout->[1]), 1)
        && defined POSIX::dup2(fileno($stderr->[1]), 2)) {
        no warnings;
        exec { $argv->[0] } @$argv;
    }
    syswrite($exec->[1], pack('N', $! + 0));
    POSIX::_exit(127);
}

sub reap {
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $id = delete $id_of_pid{$pid};
        $runs{$id}{status} = $? if defined $id && $runs{$id};
    }
}

sub service {
    my ($id, $rout, $wout) = @_;
    my $r = $runs{$id};
    feed($r) if $r->{stdin} && vec($wout, fileno($r->{stdin}), 1);
    drain($r, $id, 'stdout', 'O') if $r->{stdout} && vec($rout, fileno($r->{stdout}), 1);
    drain($r, $id, 'stderr', 'E') if $r->{stderr} && vec($rout, fileno($r->{stderr}), 1);
    finish($id, $r) if !$r->{stdout} && !$r->{stderr} && defined $r->{status};
}

# Writes what the pipe takes now; the rest waits for select to say there is room.
sub feed {
    my ($r) = @_;
    my $left = length($r->{input}) - $r->{written};
    if ($left > 0) {
        my $n = syswrite($r->{stdin}, $r->{input}, $left, $r->{written});
        return if !defined $n && again();
        # An error is EPIPE: the program does not read its stdin, which is fine.
        $left = defined $n ? $left - $n : 0;
        $r->{written} += $n if defined $n;
    }
    return if $left > 0;
    close $r->{stdin};
    $r->{stdin} = undef;
    $r->{input} = '';
}

sub drain {
    my ($r, $id, $key, $type) = @_;
    my $n = sysread($r->{$key}, my $chunk, $CHUNK);
    return if !defined $n && again();
    if ($n) {
        frame($type, $id, $chunk);
        return;
    }
    close $r->{$key};
    $r->{$key} = undef;
}

sub finish {
    my ($id, $r) = @_;
    my $status = $r->{status};
    frame('X', $id, POSIX::WIFSIGNALED($status)
        ? pack('CC', 1, POSIX::WTERMSIG($status))
        : pack('CC', 0, POSIX::WEXITSTATUS($status)));
    close $r->{stdin} if $r->{stdin};
    delete $runs{$id};
}

sub flush {
    return unless length $out;
    my $n = syswrite(STDOUT, $out);
    if (defined $n) {
        substr($out, 0, $n, '');
        return;
    }
    # Node is gone.
    exit 0 unless again();
}
`;

// The frames (HELPER_SCRIPT's header says what each carries).
export const FRAME = {
  run: "R",
  kill: "K",
  ready: "Y",
  started: "S",
  stdout: "O",
  stderr: "E",
  failed: "F",
  exit: "X",
} as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export interface Frame {
  type: string;
  id: number;
  payload: Buffer;
}

/** type (1 byte), run id (uint32 BE), payload length (uint32 BE). */
const HEADER_BYTES = 9;

export function encodeFrame(type: FrameType, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  writeHeader(frame, type, id, payload.length);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/** A run request: argc, then each of entrypoint and args as length and UTF-8 bytes, then the input. */
export function encodeRunRequest(id: number, argv: readonly string[], input: string): Buffer {
  const strings = argv.map((s) => Buffer.from(s, "utf8"));
  const length = 4 + strings.reduce((sum, s) => sum + 4 + s.length, 0) + Buffer.byteLength(input, "utf8");
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  writeHeader(frame, FRAME.run, id, length);
  let at = frame.writeUInt32BE(strings.length, HEADER_BYTES);
  for (const s of strings) {
    at = frame.writeUInt32BE(s.length, at);
    at += s.copy(frame, at);
  }
  frame.write(input, at, "utf8");
  return frame;
}

function writeHeader(frame: Buffer, type: FrameType, id: number, length: number): void {
  frame.write(type, 0, "latin1");
  frame.writeUInt32BE(id, 1);
  frame.writeUInt32BE(length, 5);
}

/** Cuts a byte stream into frames, whatever the chunks' boundaries. */
export class FrameDecoder {
  /** Bytes of frames not yet whole; joined only once the next frame is (a frame may come byte by byte). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #needed = HEADER_BYTES;

  push(chunk: Buffer): Frame[] {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < this.#needed) return [];
    const buf = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingBytes);
    const frames: Frame[] = [];
    let at = 0;
    this.#needed = HEADER_BYTES;
    while (buf.length - at >= HEADER_BYTES) {
      const end = at + HEADER_BYTES + buf.readUInt32BE(at + 5);
      if (end > buf.length) {
        this.#needed = end - at;
        break;
      }
      frames.push({
        type: String.fromCharCode(buf.readUInt8(at)),
        id: buf.readUInt32BE(at + 1),
        payload: buf.subarray(at + HEADER_BYTES, end),
      });
      at = end;
    }
    const rest = buf.subarray(at);
    this.#pending = rest.length === 0 ? [] : [rest];
    this.#pendingBytes = rest.length;
    return frames;
  }
}

/** The helper reports errno and signal numbers; child_process reports names. */
function namesByNumber(names: Record<string, number>): Map<number, string> {
  const map = new Map<number, string>();
  // Aliases share a number (SIGABRT and SIGIOT): the first is the one Node reports.
  for (const [name, number] of Object.entries(names)) if (!map.has(number)) map.set(number, name);
  return map;
}
const ERRNO_NAMES = namesByNumber(constants.errno);
const SIGNAL_NAMES = namesByNumber(constants.signals);

interface HelperRun {
  readonly id: number;
  readonly entrypoint: string;
  readonly args: readonly string[];
  readonly handlers: SpawnHandlers;
  /** Kept until the helper is ready: a run it never read can still go to directSpawner. */
  input: string | undefined;
  /** The program's pid and process group, once started. */
  pid: number | undefined;
  killed: boolean;
  /** Set when the run went to directSpawner after all. */
  direct: SpawnedRun | undefined;
}

/**
 * How a helper ended: "unusable" never got ready (no perl, or perl could not
 * run the script), so it read no request; "died" went away while in use;
 * "closed" was closed by us.
 */
type HelperEnd = "unusable" | "died" | "closed";

/** How long close() waits for the helper to exit on EOF before killing it. */
const CLOSE_GRACE_MS = 2000;

/** One helper process and the runs it carries. */
class HelperProcess {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #decoder = new FrameDecoder();
  readonly #runs = new Map<number, HelperRun>();
  readonly #ended = Promise.withResolvers<undefined>();
  readonly #onEnd: (end: HelperEnd, runs: HelperRun[]) => void;
  #nextId = 1;
  #ready = false;
  #closing = false;
  #gone = false;
  #active = false;

  constructor(command: readonly [string, ...string[]], onEnd: (end: HelperEnd, runs: HelperRun[]) => void) {
    this.#onEnd = onEnd;
    // detached: a terminal's Ctrl-C reaches Node, which shuts down in order,
    // not the helper under it. stderr is dropped: the helper has nothing to say.
    const [file, ...args] = command;
    this.#child = spawn(file, args, { detached: true, stdio: ["pipe", "pipe", "ignore"] });
    this.#child.on("error", () => {
      // A helper that could not be started; a running one ends with "close".
      if (this.#child.pid === undefined) this.#end();
    });
    this.#child.on("close", () => {
      this.#end();
    });
    // EPIPE once the helper is gone; "close" deals with that.
    this.#child.stdin.on("error", () => undefined);
    this.#child.stdout.on("data", (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.#dispatch(frame);
    });
    this.#setActive(false, true);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Runs sent and not yet ended. */
  get load(): number {
    return this.#runs.size;
  }

  spawn(entrypoint: string, args: readonly string[], input: string, handlers: SpawnHandlers): SpawnedRun {
    const run: HelperRun = {
      id: this.#nextId,
      entrypoint,
      args,
      handlers,
      input: this.#ready ? undefined : input,
      pid: undefined,
      killed: false,
      direct: undefined,
    };
    this.#nextId = this.#nextId === 0xffffffff ? 1 : this.#nextId + 1;
    this.#runs.set(run.id, run);
    this.#setActive(true);
    this.#child.stdin.write(encodeRunRequest(run.id, [entrypoint, ...args], input));
    return {
      kill: () => {
        this.#kill(run);
      },
    };
  }

  /** Ends the helper (EOF on its stdin); runs still in flight are killed and fail. */
  close(): Promise<void> {
    if (!this.#gone && !this.#closing) {
      this.#closing = true;
      // Held until it has exited, or awaiting this would not keep Node alive.
      this.#setActive(true);
      this.#child.stdin.end();
      // A helper that does not exit on EOF (stopped, or stuck in a write) must not hold shutdown.
      const timer = setTimeout(() => {
        this.#child.kill("SIGKILL");
      }, CLOSE_GRACE_MS);
      void this.#ended.promise.finally(() => {
        clearTimeout(timer);
      });
    }
    return this.#ended.promise;
  }

  #kill(run: HelperRun): void {
    if (run.direct) {
      run.direct.kill();
      return;
    }
    if (this.#gone || !this.#runs.has(run.id)) return;
    run.killed = true;
    this.#child.stdin.write(encodeFrame(FRAME.kill, run.id));
  }

  #dispatch({ type, id, payload }: Frame): void {
    if (type === FRAME.ready) {
      this.#ready = true;
      for (const run of this.#runs.values()) run.input = undefined;
      return;
    }
    const run = this.#runs.get(id);
    if (!run) return;
    switch (type) {
      case FRAME.started:
        run.pid = payload.readUInt32BE(0);
        break;
      case FRAME.stdout:
        run.handlers.stdout(payload);
        break;
      case FRAME.stderr:
        run.handlers.stderr(payload);
        break;
      case FRAME.failed:
        this.#settled(run);
        run.handlers.error(spawnError(run, payload.readUInt32BE(0)));
        break;
      case FRAME.exit:
        this.#settled(run);
        run.handlers.exit(exitOf(payload));
        break;
    }
  }

  #settled(run: HelperRun): void {
    this.#runs.delete(run.id);
    if (this.#runs.size === 0) this.#setActive(false);
  }

  /**
   * While runs are in flight the helper keeps Node alive, as a child of
   * Node's own would; idle, it never does.
   */
  #setActive(active: boolean, force = false): void {
    if (active === this.#active && !force) return;
    this.#active = active;
    const { stdin, stdout } = this.#child;
    if (active) this.#child.ref();
    else this.#child.unref();
    // child_process's pipes are sockets; the types only say Readable and Writable.
    if (stdout instanceof Socket) {
      if (active) stdout.ref();
      else stdout.unref();
    }
    if (stdin instanceof Socket) stdin.unref();
  }

  #end(): void {
    if (this.#gone) return;
    this.#gone = true;
    const runs = [...this.#runs.values()];
    this.#runs.clear();
    this.#setActive(false);
    const end: HelperEnd = this.#closing ? "closed" : this.#ready ? "died" : "unusable";
    this.#onEnd(end, runs);
    this.#ended.resolve(undefined);
  }
}

function exitOf(payload: Buffer): { code: number | null; signal: string | null } {
  const value = payload.readUInt8(1);
  if (payload.readUInt8(0) === 0) return { code: value, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(value) ?? `signal ${value}` };
}

/** The error child_process gives for a program it could not start ("spawn x ENOENT"). */
function spawnError(run: HelperRun, errno: number): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(errno) ?? "UNKNOWN";
  const err: NodeJS.ErrnoException = new Error(`spawn ${run.entrypoint} ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = `spawn ${run.entrypoint}`;
  err.path = run.entrypoint;
  return err;
}

function lostRun(end: "died" | "closed"): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    end === "died"
      ? "the spawn helper exited while the program ran (the program was killed)"
      : "the spawner was closed while the program ran (the program was killed)",
  );
  err.code = "ERR_SPAWN_HELPER_GONE";
  return err;
}

/** After this many deaths of a helper, runs go to directSpawner for good. */
const MAX_HELPER_DEATHS = 3;

/**
 * The most helpers one spawner keeps. A helper forks and waits for each exec
 * one after another, so with runs in parallel (metricConcurrency) one helper
 * is the bottleneck; more than the cores can run at once only add processes.
 */
export const MAX_HELPERS = 4;

/** Where `npm run build:native` and the image put the native helper, under the app's root. */
export const NATIVE_HELPER_PATH = join("dist", "libexec", "cpa-spawn-helper");

/**
 * The native helper to use, if any: $CPA_SPAWN_HELPER when set (empty: none),
 * else NATIVE_HELPER_PATH under the nearest directory above this module with
 * a package.json (the checkout, or /opt/cpa in the image), if executable.
 */
export function nativeHelper(
  env: NodeJS.ProcessEnv = process.env,
  from = import.meta.url,
): string | undefined {
  const chosen = env["CPA_SPAWN_HELPER"];
  if (chosen !== undefined) return chosen === "" ? undefined : chosen;
  for (let dir = dirname(fileURLToPath(from)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) {
      const path = join(dir, NATIVE_HELPER_PATH);
      try {
        accessSync(path, fs.X_OK);
        return path;
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export interface HelperSpawnerOptions {
  /** The perl to run; "perl", looked up on PATH, by default. */
  perl?: string;
  /**
   * The native helper's path; nativeHelper() by default; null for the Perl
   * helper only. One that cannot start leaves the Perl helper in its place.
   */
  native?: string | null;
  /**
   * The most helper processes at once (at least 1). By default the cores
   * Node may use, at most MAX_HELPERS.
   */
  maxHelpers?: number;
}

/**
 * Starts runs through helper processes. A run goes to an idle helper; when
 * every helper is busy a new one starts, up to maxHelpers, and past that the
 * least busy one takes it. Runs one after another therefore use one helper.
 */
export class HelperSpawner implements Spawner {
  readonly #perl: string;
  /** undefined: not looked up yet (the shared spawner is made at import); null: none, or it failed. */
  #native: string | null | undefined;
  readonly #maxHelpers: number;
  #helpers: HelperProcess[] = [];
  #deaths = 0;
  #direct = false;

  constructor(options: HelperSpawnerOptions = {}) {
    this.#perl = options.perl ?? "perl";
    this.#native = options.native;
    this.#maxHelpers = Math.max(
      1,
      Math.floor(options.maxHelpers ?? Math.min(availableParallelism(), MAX_HELPERS)),
    );
  }

  /** The first running helper's pid (for tests), if one runs. */
  get helperPid(): number | undefined {
    return this.#helpers[0]?.pid;
  }

  /** The pids of the running helpers (for tests). */
  get helperPids(): (number | undefined)[] {
    return this.#helpers.map((h) => h.pid);
  }

  /** Whether runs go to directSpawner for good: no usable helper, or helpers kept dying. */
  get direct(): boolean {
    return this.#direct;
  }

  /** The native helper new helpers run, or null when they run the Perl one. */
  get native(): string | null {
    this.#native ??= nativeHelper() ?? null;
    return this.#native;
  }

  spawn(entrypoint: string, args: readonly string[], input: string, handlers: SpawnHandlers): SpawnedRun {
    if (this.#direct || !helperCanRun(entrypoint, args)) {
      return directSpawner.spawn(entrypoint, args, input, handlers);
    }
    return this.#pick().spawn(entrypoint, args, input, handlers);
  }

  /** Stops the helpers; runs still in flight fail. A later spawn starts a new one. */
  async close(): Promise<void> {
    const helpers = this.#helpers;
    this.#helpers = [];
    await Promise.all(helpers.map(async (h) => h.close()));
  }

  #pick(): HelperProcess {
    let least: HelperProcess | undefined;
    for (const h of this.#helpers) {
      if (h.load === 0) return h;
      if (!least || h.load < least.load) least = h;
    }
    if (least && this.#helpers.length >= this.#maxHelpers) return least;
    const native = this.native;
    const command: [string, ...string[]] = native === null ? [this.#perl, "-e", HELPER_SCRIPT] : [native];
    const helper: HelperProcess = new HelperProcess(command, (end, runs) => {
      this.#ended(helper, end, native, runs);
    });
    this.#helpers.push(helper);
    return helper;
  }

  #ended(helper: HelperProcess, end: HelperEnd, native: string | null, runs: HelperRun[]): void {
    this.#helpers = this.#helpers.filter((h) => h !== helper);
    if (end === "unusable") {
      // Quietly: a native helper that does not run here (another architecture
      // or libc) leaves the Perl one; an image without perl only costs Node's
      // thread more.
      if (native !== null) this.#native = null;
      else this.#direct = true;
      for (const run of runs) this.#redispatch(run);
      return;
    }
    if (end === "died" && ++this.#deaths >= MAX_HELPER_DEATHS) this.#direct = true;
    for (const run of runs) {
      // Started programs would run on unseen, past their timeout: stop them as a timeout would.
      if (run.pid !== undefined) killGroup(run.pid);
      run.handlers.error(lostRun(end));
    }
  }

  /** A helper that never got ready read none of its runs: they start anew (Perl helper or directly), as if it never was. */
  #redispatch(run: HelperRun): void {
    if (run.killed || run.input === undefined) {
      run.handlers.exit({ code: null, signal: "SIGKILL" });
      return;
    }
    run.direct = this.spawn(run.entrypoint, run.args, run.input, run.handlers);
  }
}

/** What child_process refuses with its own error (an empty name, NUL bytes) goes there to get it. */
function helperCanRun(entrypoint: string, args: readonly string[]): boolean {
  return entrypoint !== "" && !entrypoint.includes("\0") && !args.some((arg) => arg.includes("\0"));
}

/** The spawner shell stages use unless told otherwise; its first helper starts with the first run. */
export const sharedSpawner: Spawner = new HelperSpawner();
