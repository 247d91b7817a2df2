// A run halted while it is still getting ready (loading its definition, reading its saved state) must not go
// on to execute. The engine forgets a halted run at once and may claim it again; an execution that went on
// unseen ran beside the next one under the same owner, and its sql step committed twice (found by the fault
// suite: test/faults/pg-restart.fault.ts).
import { expect, it } from "vitest";
import { systemClock } from "../../src/engine/clock.js";
import { resolveTemplate, type Template } from "../../src/engine/definition/expressions.js";
import type { MachineDeps } from "../../src/engine/machine.js";
import { startRun } from "../../src/engine/runner.js";
import type { SaveBatcher, SaveItem } from "../../src/engine/store/batch.js";
import type { ClaimedRun } from "../../src/engine/store/claim.js";
import { silentLogger } from "../../src/log.js";
import { probe, step, workflow } from "./fixtures/defs.js";

it("a run halted before its actor exists stops there: no try, no save", async () => {
  const p = probe();
  const def = workflow("x", [step("probe", { key: "x1" })]);
  const saves: SaveItem[] = [];
  const batcher = {
    save: async (item: SaveItem) => {
      saves.push(item);
      return true;
    },
  } as unknown as SaveBatcher;
  let loaded!: () => void;
  const definitionLoaded = new Promise<void>((r) => {
    loaded = r;
  });
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
    id: "00000000-0000-4000-8000-000000000002",
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
      batcher,
      secrets: [],
      definitionFor: async () => {
        await definitionLoaded;
        return def;
      },
      onRun: () => {},
      onStep: () => {},
    },
    run,
  );
  // The lease lapses while the definition loads: the engine halts the run.
  live.halt();
  loaded();
  expect(await live.done).toBe("stopped");
  await new Promise((r) => setTimeout(r, 50));
  expect(p.tries("x1")).toBe(0);
  expect(saves).toEqual([]);
});
