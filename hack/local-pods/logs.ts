// Container logs as a kubelet keeps them: one file per container instance,
// <root>/<namespace>_<pod>_<uid>/<container>/<restart>.log, each line in the CRI
// log format (`<RFC3339Nano time> <stdout|stderr> F <line>`), and the reading
// the kubelet API's /containerLogs does: tailLines, sinceSeconds/sinceTime,
// timestamps, limitBytes, follow, previous.
import { EventEmitter } from "node:events";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type Stream = "stdout" | "stderr";

export interface LogLine {
  /** RFC 3339 with nanoseconds, as the CRI writes it. */
  time: string;
  stream: Stream;
  text: string;
}

/** One line in the CRI log format. Pure. */
export function criLine(line: LogLine): string {
  return `${line.time} ${line.stream} F ${line.text}\n`;
}

/** The lines of a CRI log file's content (partial lines, tagged P, joined with what follows). Pure. */
export function parseCriLog(content: string): LogLine[] {
  const out: LogLine[] = [];
  let partial = "";
  for (const raw of content.split("\n")) {
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(raw);
    if (!m) continue;
    const [, time = "", stream, tag, text = ""] = m;
    if (tag === "P") {
      partial += text;
      continue;
    }
    out.push({ time, stream: stream as Stream, text: partial + text });
    partial = "";
  }
  return out;
}

/** An RFC 3339 time with nanoseconds from a Date, as the CRI writes log times. Pure. */
export function nanoTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

export interface LogQuery {
  tailLines?: number | undefined;
  /** Only lines at or after this time (ms since the epoch). */
  sinceMs?: number | undefined;
  timestamps?: boolean | undefined;
  limitBytes?: number | undefined;
}

/** The text /containerLogs answers for these lines and options. Pure. */
export function selectLog(lines: readonly LogLine[], q: LogQuery): string {
  let picked = q.sinceMs === undefined ? lines : lines.filter((l) => Date.parse(l.time) >= (q.sinceMs ?? 0));
  if (q.tailLines !== undefined) picked = q.tailLines <= 0 ? [] : picked.slice(-q.tailLines);
  const text = picked.map((l) => formatLine(l, q.timestamps === true)).join("");
  return q.limitBytes === undefined ? text : Buffer.from(text).subarray(0, q.limitBytes).toString();
}

/** A line as /containerLogs writes it: with its time first when timestamps are asked for. Pure. */
export function formatLine(l: LogLine, timestamps: boolean): string {
  return timestamps ? `${l.time} ${l.text}\n` : `${l.text}\n`;
}

/** The log of one container instance: appended while it runs, readable and followable. */
export class InstanceLog extends EventEmitter<{ line: [LogLine]; end: [] }> {
  readonly file: string;
  #ended = false;

  constructor(file: string) {
    super();
    this.file = file;
  }

  get ended(): boolean {
    return this.#ended;
  }

  append(stream: Stream, text: string, now = new Date()): LogLine {
    const line = { time: nanoTime(now), stream, text };
    appendFileSync(this.file, criLine(line));
    this.emit("line", line);
    return line;
  }

  lines(): LogLine[] {
    return existsSync(this.file) ? parseCriLog(readFileSync(this.file, "utf8")) : [];
  }

  /** The instance has exited: followers are told, and stop. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.emit("end");
  }
}

/** The logs of the Pods of one kubelet, under `root`. */
export class LogStore {
  readonly root: string;
  readonly #instances = new Map<string, InstanceLog[]>();

  constructor(root: string) {
    this.root = root;
  }

  /** The folder of a Pod's logs: <namespace>_<name>_<uid>, as /var/log/pods has it. */
  podDir(namespace: string, name: string, uid: string): string {
    return join(this.root, `${namespace}_${name}_${uid}`);
  }

  /** A new instance of a container: the log of its restart number `restart`. */
  start(namespace: string, name: string, uid: string, container: string, restart: number): InstanceLog {
    const dir = join(this.podDir(namespace, name, uid), container);
    mkdirSync(dir, { recursive: true });
    const log = new InstanceLog(join(dir, `${restart}.log`));
    const key = `${uid}/${container}`;
    this.#instances.set(key, [...(this.#instances.get(key) ?? []), log]);
    return log;
  }

  /** The container's instances, oldest first. */
  instances(uid: string, container: string): readonly InstanceLog[] {
    return this.#instances.get(`${uid}/${container}`) ?? [];
  }

  /** Forgets an instance that never ran (its container could not be created). */
  drop(log: InstanceLog): void {
    for (const [key, all] of this.#instances)
      this.#instances.set(
        key,
        all.filter((l) => l !== log),
      );
  }

  /** Forgets a Pod's instances (its files stay, for whoever reads them later). */
  forget(uid: string): void {
    for (const key of this.#instances.keys()) if (key.startsWith(`${uid}/`)) this.#instances.delete(key);
  }
}
