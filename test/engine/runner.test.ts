import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/engine/clock.js";
import { resolveTemplate, type Template } from "../../src/engine/definition/expressions.js";
import type { MachineDeps } from "../../src/engine/machine.js";
import { BEGIN_HOLD_MS, preparedLogic, prepareRuns, startRun } from "../../src/engine/runner.js";
import type { SaveBatcher, SaveItem } from "../../src/engine/store/batch.js";
import type { ClaimedRun } from "../../src/engine/store/claim.js";
import { silentLogger } from "../../src/log.js";
import { probe, step, workflow } from "./fixtures/defs.js";

/** A batcher whose saves land only when the test releases them, in the order they were made. */
function gatedBatcher() {
  const items: SaveItem[] = [];
  const landed: SaveItem[] = [];
  const gates: (() => void)[] = [];
  const batcher = {
    save(item: SaveItem) {
      items.push(item);
      return new Promise<boolean>((resolve) =>
        gates.push(() => {
          landed.push(item);
          resolve(true);
        }),
      );
    },
  } as unknown as SaveBatcher;
  return { batcher, items, landed, release: () => gates.shift()?.() };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
};

/**
 * Lets everything the runner has queued run: its saves here go to the gated batcher, so nothing waits on I/O,
 * and what has not happened after a few turns of the event loop does not happen without the clock moving.
 */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const depsOf = (p: ReturnType<typeof probe>): MachineDeps => ({
  stepKinds: { probe: p.kind },
  clients: {} as MachineDeps["clients"],
  log: silentLogger(),
  env: {},
  now: () => Date.now(),
  random: Math.random,
  parkAfterMs: 5000,
  resolve: (t, ctx) => resolveTemplate(t as Template, ctx),
});

/** A run started on a manual clock: BEGIN_HOLD_MS passes only when a test advances it. */
function started(def: ReturnType<typeof workflow>, p: ReturnType<typeof probe>, deps = depsOf(p)) {
  const clock = new ManualClock();
  const g = gatedBatcher();
  const run: ClaimedRun = {
    id: "00000000-0000-4000-8000-000000000001",
    workflow: def.name,
    version: def.version,
    event: { id: "e", type: "manual", at: "" },
    depth: 0,
    status: "running",
    snapshot: null,
    attempt: 1,
    concurrency_key: null,
    started_at: new Date(),
  };
  const live = startRun(
    {
      pool: {} as never,
      owner: "a",
      clock,
      log: silentLogger(),
      deps,
      batcher: g.batcher,
      secrets: [],
      definitionFor: async () => def,
      onRun: () => {},
      onStep: () => {},
    },
    run,
  );
  return { g, live, clock };
}

/** The number of a step in its workflow (1 for the first), by its step key. */
const keyOf = (def: ReturnType<typeof workflow>, stepKey: string) =>
  def.steps.findIndex((st) => st.key === stepKey) + 1;

describe("runner", () => {
  it("builds a workflow's machine ahead of its first run (prepareRuns), which then uses it", async () => {
    const p = probe();
    const deps = depsOf(p);
    const def = workflow("ahead", [step("probe", { key: "a1" })]);
    expect(preparedLogic(def, deps)).toBeUndefined();
    prepareRuns([def], deps);
    const built = preparedLogic(def, deps);
    expect(built).toBeDefined();
    const { g, live } = started(def, p, deps);
    await until(() => g.items.length === 1);
    g.release();
    expect(await live.done).toBe("succeeded");
    expect(preparedLogic(def, deps)).toBe(built);
  });

  it("saves a new run's quick first try once, as it ends, with its input and start", async () => {
    const p = probe();
    const def = workflow("q", [step("probe", { key: "q1" }), step("probe", { key: "q2", gate: "q2" })]);
    const { g, live } = started(def, p);
    await until(() => g.items.length === 1);
    // The begin save of q1 was held back, and q1 ended first: one save ends q1 and begins q2.
    const tries = g.items[0]!.tries;
    expect(tries.map((t) => [keyOf(def, t.stepKey), t.status, t.finished])).toEqual([
      [1, "succeeded", true],
      [2, "running", false],
    ]);
    expect(JSON.parse(tries[0]!.input!)).toEqual({ key: "q1" });
    expect(tries[0]!.startedAgoMs).toBeGreaterThanOrEqual(0);
    expect(tries[0]!.startedAgoMs).toBeLessThan(BEGIN_HOLD_MS);
    expect(tries[1]!.startedAgoMs).toBeUndefined();
    live.halt();
    g.release();
    expect(await live.done).toBe("stopped");
  });

  it("saves a first try still running after BEGIN_HOLD_MS as begun", async () => {
    const p = probe();
    const def = workflow("s", [step("probe", { key: "s1", gate: "s1" })]);
    const { g, live, clock } = started(def, p);
    await until(() => p.tries("s1") === 1);
    clock.advance(BEGIN_HOLD_MS - 1);
    await settle();
    expect(g.items.length).toBe(0);
    clock.advance(1);
    await until(() => g.items.length === 1);
    expect(g.items[0]!.tries.map((t) => [keyOf(def, t.stepKey), t.status, t.startedAgoMs])).toEqual([
      [1, "running", undefined],
    ]);
    g.release();
    p.open("s1");
    await until(() => g.items.length === 2);
    expect(g.items[1]!.tries.map((t) => [keyOf(def, t.stepKey), t.status, t.input])).toEqual([
      [1, "succeeded", null],
    ]);
    g.release();
    expect(await live.done).toBe("succeeded");
  });

  it("saves the begun first try with the cancellation when it is cancelled while its begin is held", async () => {
    const p = probe();
    const def = workflow("h", [step("probe", { key: "h1", gate: "h1" })]);
    const { g, live, clock } = started(def, p);
    await until(() => p.tries("h1") === 1);
    live.cancel();
    await until(() => g.items.length === 1);
    g.release();
    expect(await live.done).toBe("cancelled");
    expect(g.items[0]!.status).toBe("cancelled");
    expect(g.items[0]!.tries.map((t) => [keyOf(def, t.stepKey), t.status, JSON.parse(t.input!)])).toEqual([
      [1, "running", { key: "h1", gate: "h1" }],
    ]);
    clock.advance(BEGIN_HOLD_MS);
    await settle();
    expect(g.items.length).toBe(1); // the held begin was not sent as well
  });

  it("sends no held begin save after a halt", async () => {
    const p = probe();
    const def = workflow("x", [step("probe", { key: "x1", gate: "x1" })]);
    const { g, live, clock } = started(def, p);
    await until(() => p.tries("x1") === 1);
    live.halt();
    expect(await live.done).toBe("stopped");
    clock.advance(BEGIN_HOLD_MS);
    await settle();
    expect(g.items.length).toBe(0);
  });

  it("saves a cancellation after the save the machine had in flight, never before it", async () => {
    const p = probe();
    const def = workflow("c", [step("probe", { key: "c1" }), step("probe", { key: "c2", gate: "c2" })]);
    const { g, live } = started(def, p);
    await until(() => g.items.length === 1); // c1 ends, c2 begins: this save is in flight
    live.cancel();
    await settle();
    expect(g.items.length).toBe(1); // the cancellation waits for it
    g.release();
    await until(() => g.items.length === 2);
    g.release();
    expect(await live.done).toBe("cancelled");
    expect(g.landed.map((i) => i.status)).toEqual(["running", "cancelled"]);
  });

  it("drops a try's result save still waiting for its begin save when the run is cancelled", async () => {
    const p = probe();
    const def = workflow("d", [step("probe", { key: "d1", gate: "d1" }), step("probe", { key: "d2" })]);
    const { g, live, clock } = started(def, p);
    // d1 begins, and its begin save is sent once d1 has run for BEGIN_HOLD_MS; d1 runs meanwhile (it
    // records no loop-guard intents).
    await until(() => p.tries("d1") === 1);
    clock.advance(BEGIN_HOLD_MS);
    await until(() => g.items.length === 1);
    p.open("d1");
    await settle(); // d1 has returned; its result save waits for the begin
    live.cancel();
    g.release();
    await until(() => g.items.length === 2);
    g.release();
    expect(await live.done).toBe("cancelled");
    await settle();
    g.release();
    // The cancellation is the run's last save: d1's result (which would begin d2) is never made.
    expect(g.items.map((i) => i.status)).toEqual(["running", "cancelled"]);
    expect(p.tries("d2")).toBe(0);
  });
});
