// Records core/v1 Events on an object, as `kubectl describe` shows them. Repeats
// of the same event within the window update one Event (count and lastTimestamp)
// instead of creating new ones, like client-go's event correlator.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { KubeClient } from "./http.ts";
import type { KubeObject } from "./objects.ts";
import { Events, objectPath } from "./writes.ts";
import { resourcePath } from "./discovery.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  record(obj: KubeObject, type: EventType, reason: string, message: string): void;
}

interface Seen {
  name: string;
  count: number;
  at: number;
}

const WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 4096;
/**
 * Events go out at most this many at a time, behind a queue: they are the
 * lowest-priority writes, and during a burst must not take the apiserver's
 * capacity from the creates users wait for.
 */
const MAX_IN_FLIGHT = 2;
/** How often held events check whether they may go. */
const HOLD_RECHECK_MS = 200;
/** Queued events beyond this are dropped (the API is down or overwhelmed): they are a record, not state. */
const MAX_QUEUED = 1000;

export class ApiEventRecorder implements EventRecorder {
  readonly #http: KubeClient;
  readonly #component: string;
  readonly #instance: string;
  readonly #log: Logger;
  readonly #seen = new Map<string, Seen>();
  readonly #queue: (() => Promise<void>)[] = [];
  #inFlight = 0;
  #dropped = 0;

  /**
   * While this says so, queued events wait: the owner has more important writes
   * to make (a controller with keys waiting). Events are a record, not state.
   */
  readonly #hold: () => boolean;
  #holding: NodeJS.Timeout | undefined;

  constructor(
    http: KubeClient,
    component: string,
    instance: string,
    log: Logger,
    hold: () => boolean = () => false,
  ) {
    this.#hold = hold;
    this.#http = http;
    this.#component = component;
    this.#instance = instance;
    this.#log = log;
  }

  /** Fire and forget: a failed event is logged, never fails the caller. */
  record(obj: KubeObject, type: EventType, reason: string, message: string): void {
    if (this.#queue.length >= MAX_QUEUED) {
      this.#queue.shift();
      if (this.#dropped++ === 0)
        this.#log.warn({ queued: MAX_QUEUED }, "Too many events waiting; dropping the oldest");
    }
    this.#queue.push(() =>
      this.#write(obj, type, reason, message).catch((err: unknown) => {
        this.#log.warn({ err: String(err), reason }, "Could not record event");
      }),
    );
    this.#pump();
  }

  #pump(): void {
    if (this.#hold()) {
      if (this.#holding === undefined) {
        this.#holding = setTimeout(() => {
          this.#holding = undefined;
          this.#pump();
        }, HOLD_RECHECK_MS);
      }
      return;
    }
    while (this.#inFlight < MAX_IN_FLIGHT) {
      const next = this.#queue.shift();
      if (!next) {
        this.#dropped = 0;
        return;
      }
      this.#inFlight++;
      void next().finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #write(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = obj.metadata?.namespace ?? "default";
    const key = [obj.metadata?.uid, type, reason, message].join("\u0000");
    const now = new Date();
    const seen = this.#seen.get(key);
    if (seen && now.getTime() - seen.at < WINDOW_MS) {
      seen.count++;
      seen.at = now.getTime();
      await this.#http.request("PATCH", objectPath(Events, namespace, seen.name), {
        body: { count: seen.count, lastTimestamp: now.toISOString() },
        contentType: "application/merge-patch+json",
      });
      return;
    }
    const name = `${obj.metadata?.name ?? "object"}.${randomBytes(8).toString("hex")}`;
    await this.#http.request("POST", resourcePath(Events, namespace), {
      body: {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata?.name,
          namespace,
          uid: obj.metadata?.uid,
          resourceVersion: obj.metadata?.resourceVersion,
        },
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: now.toISOString(),
        lastTimestamp: now.toISOString(),
        source: { component: this.#component },
        reportingComponent: this.#component,
        reportingInstance: this.#instance,
      },
    });
    if (this.#seen.size >= MAX_REMEMBERED) this.#seen.clear();
    this.#seen.set(key, { name, count: 1, at: now.getTime() });
  }
}
