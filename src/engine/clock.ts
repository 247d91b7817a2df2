// The engine's clock: what xstate's delayed transitions (retry waits, step timeouts), `now()`, the engine's
// poll, the parked runs' wake timer and the cron driver use. Tests inject a manual clock and move time by hand.
// Not on it: the lease renewal and the lease fence, whose deadlines are the database's (a lease runs out by
// its clock), so a test that moves the manual clock a day on does not expire every lease.
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** A timer that does not keep the process alive (a no-op for a manual clock's timers). */
export function unrefTimer(id: unknown): void {
  (id as { unref?: () => void } | undefined)?.unref?.();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

/** A clock that only moves when `advance` is called; timers fire in due order. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn: () => fn() });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }
  /** Timers waiting now. */
  pending(): number {
    return this.timers.size;
  }
  /** When the earliest waiting timer is due; undefined when none waits. */
  nextAt(): number | undefined {
    let at: number | undefined;
    for (const t of this.timers.values()) if (at === undefined || t.at < at) at = t.at;
    return at;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}
