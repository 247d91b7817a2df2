import { describe, expect, it } from "vitest";
import { assign, setup } from "xstate";
import { ManualClock } from "../../src/engine/clock.js";
import { drive } from "../../src/engine/drive.js";

/** A one-effect machine: `work` runs in `working`, timed out after 1 s unless its context says it returned. */
function machineOf() {
  return setup({
    types: {} as {
      context: { n: number; returned: { value: boolean }; why?: string };
      events:
        | { type: "CANCEL" }
        | { type: "work.done"; output: number }
        | { type: "work.error"; error: unknown };
    },
    actions: { work: (_, _p: { n: number }) => {} },
    delays: { limit: 1000 },
  }).createMachine({
    context: { n: 0, returned: { value: false } },
    initial: "working",
    on: { CANCEL: ".cancelled" },
    states: {
      working: {
        entry: { type: "work", params: ({ context }) => ({ n: context.n }) },
        on: {
          "work.done": [
            {
              guard: ({ event }) => event.output < 3,
              target: "working",
              reenter: true,
              actions: assign({ n: ({ event }) => event.output }),
            },
            { target: "done", actions: assign({ n: ({ event }) => event.output }) },
          ],
          "work.error": { target: "failed", actions: assign({ why: ({ event }) => String(event.error) }) },
        },
        after: {
          limit: { guard: ({ context }) => !context.returned.value, target: "timedOut" },
        },
      },
      done: { type: "final" },
      failed: { type: "final" },
      timedOut: { type: "final" },
      cancelled: { type: "final" },
    },
  });
}

/** A controllable effect: each call is recorded with its signal, and settled by the test. */
function effect() {
  const calls: {
    n: number;
    signal: AbortSignal;
    resolve: (v: number) => void;
    reject: (e: unknown) => void;
  }[] = [];
  const work = (p: { n: number }, signal: AbortSignal) =>
    new Promise<number>((resolve, reject) => calls.push({ n: p.n, signal, resolve, reject }));
  return { calls, work };
}

const turn = () => new Promise((r) => setImmediate(r));

describe("drive: a run's machine without an actor", () => {
  it("runs the effect each time its state is entered, and ends with the final snapshot", async () => {
    const clock = new ManualClock();
    const e = effect();
    const ends: unknown[] = [];
    const d = drive(machineOf(), { work: e.work }, undefined, clock, (x) => ends.push(x));
    for (let i = 1; i <= 3; i++) {
      expect(e.calls).toHaveLength(i);
      expect(e.calls[i - 1]!.n).toBe(i - 1);
      // One timer at a time: re-entering the state cancels the old one.
      expect(clock.pending()).toBe(1);
      e.calls[i - 1]!.resolve(i);
      await turn();
    }
    expect(ends).toHaveLength(1);
    expect(d.snapshot().value).toBe("done");
    expect(d.snapshot().context.n).toBe(3);
    expect(clock.pending()).toBe(0);
    expect(e.calls.some((c) => c.signal.aborted)).toBe(false);
  });

  it("times the effect out: it is aborted, and its late outcome is ignored", async () => {
    const clock = new ManualClock();
    const e = effect();
    const ends: { snapshot?: { value: unknown } }[] = [];
    drive(machineOf(), { work: e.work }, undefined, clock, (x) => ends.push(x as never));
    clock.advance(1000);
    expect(e.calls[0]!.signal.aborted).toBe(true);
    expect(ends[0]!.snapshot!.value).toBe("timedOut");
    e.calls[0]!.resolve(1);
    await turn();
    expect(ends).toHaveLength(1);
    expect(e.calls).toHaveLength(1);
  });

  it("keeps the effect when the timeout's guard holds the machine where it is", async () => {
    const clock = new ManualClock();
    const e = effect();
    const ends: unknown[] = [];
    const d = drive(machineOf(), { work: e.work }, undefined, clock, (x) => ends.push(x));
    d.snapshot().context.returned.value = true;
    clock.advance(1000);
    expect(e.calls[0]!.signal.aborted).toBe(false);
    expect(ends).toHaveLength(0);
    e.calls[0]!.resolve(5);
    await turn();
    expect(d.snapshot().value).toBe("done");
  });

  it("sends a failed effect's error; a cancel or a stop aborts the effect in flight", async () => {
    const clock = new ManualClock();
    const e = effect();
    const ends: unknown[] = [];
    const failed = drive(machineOf(), { work: e.work }, undefined, clock, (x) => ends.push(x));
    e.calls[0]!.reject(new Error("boom"));
    await turn();
    expect(failed.snapshot().value).toBe("failed");
    expect(failed.snapshot().context.why).toBe("Error: boom");

    const cancelled = drive(machineOf(), { work: e.work }, undefined, clock, (x) => ends.push(x));
    cancelled.send({ type: "CANCEL" });
    expect(e.calls[1]!.signal.aborted).toBe(true);
    expect(cancelled.snapshot().value).toBe("cancelled");

    const stopped = drive(machineOf(), { work: e.work }, undefined, clock, (x) => ends.push(x));
    stopped.stop();
    expect(e.calls[2]!.signal.aborted).toBe(true);
    e.calls[2]!.resolve(9);
    await turn();
    expect(ends).toHaveLength(2);
    expect(clock.pending()).toBe(0);
  });

  it("drives a machine flat-machine.ts does not cover (nested states) with xstate, and a flat one either way", async () => {
    const nested = setup({
      actions: { work: (_, _p: { n: number }) => {} },
    }).createMachine({
      initial: "outer",
      states: {
        outer: {
          initial: "working",
          states: {
            working: {
              entry: { type: "work", params: () => ({ n: 7 }) },
              on: { "work.done": "#done" },
            },
          },
        },
        done: { id: "done", type: "final" },
      },
    });
    for (const [m, opts] of [
      [nested, undefined],
      [machineOf(), { xstate: true }],
    ] as const) {
      const e = effect();
      const ends: { snapshot?: { value: unknown } }[] = [];
      drive(m, { work: e.work }, undefined, new ManualClock(), (x) => ends.push(x as never), opts);
      e.calls[0]!.resolve(5);
      await turn();
      expect(ends[0]!.snapshot!.value).toBe("done");
    }
  });

  it("ends with the error when a transition throws", () => {
    const broken = setup({}).createMachine({
      initial: "a",
      states: {
        a: {
          always: {
            target: "b",
            actions: () => {
              throw new Error("bad action");
            },
          },
        },
        b: {},
      },
    });
    const ends: { error?: unknown }[] = [];
    // A plain action runs, as in an actor; its throw ends the run.
    drive(broken, {}, undefined, new ManualClock(), (x) => ends.push(x as never));
    expect(String(ends[0]!.error)).toContain("bad action");
    const throwing = setup({}).createMachine({
      context: () => {
        throw new Error("bad context");
      },
    });
    drive(throwing, {}, undefined, new ManualClock(), (x) => ends.push(x as never));
    expect(String(ends[1]!.error)).toContain("bad context");
  });
});
