import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/engine/clock.js";
import { resolveTemplate, type Template } from "../../src/engine/definition/expressions.js";
import type { MachineDeps } from "../../src/engine/machine.js";
import { startRun } from "../../src/engine/runner.js";
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

function started(def: ReturnType<typeof workflow>, p: ReturnType<typeof probe>) {
  const g = gatedBatcher();
  const deps: MachineDeps = {
    stepKinds: { probe: p.kind },
    clients: {} as MachineDeps["clients"],
    log: silentLogger(),
    env: {},
    now: () => Date.now(),
    random: Math.random,
    parkAfterMs: 5000,
    resolve: (t, ctx) => resolveTemplate(t as Template, ctx),
  };
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
      clock: systemClock,
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
  return { g, live };
}

describe("runner", () => {
  it("saves a cancellation after the save the machine had in flight, never before it", async () => {
    const p = probe();
    const def = workflow("c", [step("probe", { key: "c1" }), step("probe", { key: "c2", gate: "c2" })]);
    const { g, live } = started(def, p);
    await until(() => g.items.length === 1); // c1 begins
    g.release();
    await until(() => g.items.length === 2); // c1 ends, c2 begins: this save is in flight
    live.cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(g.items.length).toBe(2); // the cancellation waits for it
    g.release();
    await until(() => g.items.length === 3);
    g.release();
    expect(await live.done).toBe("cancelled");
    expect(g.landed.map((i) => i.status)).toEqual(["running", "running", "cancelled"]);
  });

  it("drops a try's result save still waiting for its begin save when the run is cancelled", async () => {
    const p = probe();
    const def = workflow("d", [step("probe", { key: "d1" }), step("probe", { key: "d2" })]);
    const { g, live } = started(def, p);
    // d1 begins: its begin save is in flight, and d1 runs meanwhile (it records no loop-guard intents).
    await until(() => g.items.length === 1 && p.tries("d1") === 1);
    await new Promise((r) => setTimeout(r, 20)); // d1 has returned; its result save waits for the begin
    live.cancel();
    g.release();
    await until(() => g.items.length === 2);
    g.release();
    expect(await live.done).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 20));
    g.release();
    // The cancellation is the run's last save: d1's result (which would begin d2) is never made.
    expect(g.items.map((i) => i.status)).toEqual(["running", "cancelled"]);
    expect(p.tries("d2")).toBe(0);
  });
});
