// A Clock for tests: time moves only when the test says so, and the wall clock
// can be stepped apart from the monotonic one, as an NTP step or a VM resume does.
import type { Clock } from "./clock.ts";

export class FakeClock implements Clock {
  #monotonic = 0;
  /** The wall clock's offset from the monotonic one. */
  #wallOffset: number;
  #timers: { at: number; fn: () => void; live: boolean }[] = [];

  constructor(wallStart = 0) {
    this.#wallOffset = wallStart;
  }

  now(): number {
    return this.#monotonic + this.#wallOffset;
  }

  monotonic(): number {
    return this.#monotonic;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const timer = { at: this.#monotonic + Math.max(0, ms), fn, live: true };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }

  /** Moves time forward, firing due timers in order at their own time. */
  advance(ms: number): void {
    const end = this.#monotonic + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => t.live);
      const next = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#monotonic = next.at;
      next.live = false;
      next.fn();
    }
    this.#monotonic = end;
  }

  /** Steps the wall clock only (timers and durations are unaffected). */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }

  pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}
