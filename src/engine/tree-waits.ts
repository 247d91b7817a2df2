// The inner steps of a foreach or parallel that wait (sleep, wait_for, call: tree.ts): each registered
// durably (src/engine/park/inner.ts) and waited for, a sleep on the engine's clock and a wait_for or call
// read every POLL_MS while the run is live; and the run parked once every leaf inner step in flight waits.
import type { ParkRequest } from "../steps/park.js";
import type { Clock } from "./clock.js";
import type { ExprContext, StepDefinition } from "./definition/types.js";
import type { RunIO } from "./machine.js";
import type { WaitInfo } from "./park/wait-info.js";
import type { RunState, StepState } from "./state.js";
import type { Saver } from "./tree-save.js";

/** How often a live run reads whether its inner wait_for and call steps' waits are over. */
const POLL_MS = 250;

/** Every inner step in flight waits, and the run is parked (inner.ts): the tree stops; due in `ms`. */
export class TreeParked extends Error {
  constructor(readonly ms: number) {
    super("parked: every inner step in flight waits");
  }
}

/** What the waits need of their tree. */
export interface WaitHost {
  io: RunIO;
  clock: Clock;
  saver: Saver;
  /** The tree's: aborted when it stops (or parks). */
  signal: AbortSignal;
  state(): RunState;
  set(key: string, entry: StepState): void;
  /** Stops the tree with this reason. */
  stop(reason: unknown): void;
  sleep(ms: number): Promise<void>;
}

export class InnerWaits {
  /** An inner wait_for began here: its row in skyflow.waits goes when the container ends. */
  waited = false;
  /** Leaf inner steps in flight, and those of them that wait (`waits`): all waiting parks the run. */
  private active = 0;
  private readonly waits = new Map<string, WaitInfo>();
  /** Moves on at every change of the two above: a park decided on a stale count is not made. */
  private gen = 0;
  private parking = false;
  /** The waits' pauses between reads: ended at once when a park finds a wait over (`kick`). */
  private readonly pauses = new Set<() => void>();

  constructor(private readonly h: WaitHost) {}

  /** A leaf inner step begins. */
  enter(): void {
    this.active++;
    this.changed();
  }

  /** A leaf inner step has ended. */
  leave(): void {
    this.active--;
    this.changed();
  }

  /**
   * An inner sleep, wait_for or call: registered durably (its times, child and row kept in its entry, saved
   * first), then waited for. Returns the step's output, or throws its error (a child that failed).
   */
  async wait(
    key: string,
    step: StepDefinition,
    req: ParkRequest,
    expr: ExprContext,
    locals: Record<string, unknown>,
  ): Promise<unknown> {
    const entry = this.h.state().steps[key]!;
    const prior = entry.park;
    if (req.kind === "wait_for") this.waited = true;
    const r = await this.h.io.inner.begin({
      key,
      step,
      req,
      expr,
      locals,
      state: this.h.state(),
      ...(prior ? { prior } : {}),
    });
    if ("output" in r) return r.output;
    if ("error" in r) throw r.error;
    if (JSON.stringify(prior) !== JSON.stringify(r.wait)) {
      this.h.set(key, { ...entry, park: r.wait });
      await this.h.saver.save({});
    }
    return this.released(r.wait, r.dueMs);
  }

  /** Waits until `w` is over: a sleep on the clock, a wait_for or call read every POLL_MS. */
  private async released(w: WaitInfo, dueMs: number): Promise<unknown> {
    const due = this.h.clock.now() + dueMs;
    this.waits.set(w.step, w);
    this.changed();
    try {
      for (;;) {
        if (this.h.signal.aborted) throw this.h.signal.reason;
        const left = due - this.h.clock.now();
        // While the run parks, an outcome is not taken: the park's snapshot must stay what is saved.
        if (w.kind === "sleep" && left <= 0 && !this.parking)
          return { slept_ms: Date.parse(w.until!) - Date.parse(w.began) };
        if (w.kind !== "sleep" && !this.parking) {
          const end = await this.h.io.inner.check(w);
          if (end && !this.parking) {
            if ("error" in end) throw end.error;
            return end.output;
          }
        }
        // At most a minute at once: a timer cannot hold more than 24.8 days, and a long one is read again.
        await this.pause(w.kind === "sleep" && left > 0 ? Math.min(left, 60_000) : POLL_MS);
      }
    } finally {
      this.waits.delete(w.step);
      this.changed();
    }
  }

  /** Called at each change of the steps in flight: parks the run once every one of them waits. */
  private changed(): void {
    this.gen++;
    if (this.waits.size > 0 && this.active === this.waits.size && !this.parking) void this.park();
  }

  /**
   * Parks the run (inner.ts parkInside) once the count has held over two turns of the event loop and the
   * saves in flight have landed (a step about to begin has begun by then), unless a wait is over already.
   */
  private async park(): Promise<void> {
    const gen = this.gen;
    const quiet = () =>
      gen === this.gen && !this.parking && !this.h.signal.aborted && this.active === this.waits.size;
    await new Promise<void>((r) => setImmediate(r));
    try {
      await this.h.saver.idle();
    } catch {
      return;
    }
    await new Promise<void>((r) => setImmediate(r));
    if (!quiet()) return;
    this.parking = true;
    try {
      const ms = await this.h.io.inner.park(this.h.state(), [...this.waits.values()]);
      if (ms !== undefined) {
        this.h.stop(new TreeParked(ms));
        return;
      }
    } catch (err) {
      this.h.stop(err);
    }
    this.parking = false;
    // A wait is over (a child ended, an event came): read them now, not at the next poll (whose timer, on
    // a test's manual clock, would wait for the clock to move).
    for (const end of [...this.pauses]) end();
  }

  /** Waits `ms` on the engine's clock, or until kicked; an abort ends it with the abort's reason. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const { clock, signal } = this.h;
      const end = () => {
        clock.clearTimeout(timer);
        this.pauses.delete(end);
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        clock.clearTimeout(timer);
        this.pauses.delete(end);
        reject(signal.reason);
      };
      const timer = clock.setTimeout(end, ms);
      this.pauses.add(end);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
