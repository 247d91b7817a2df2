import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import { createEngine, type Engine, type EngineOptions } from "../../src/engine/engine.js";
import { silentLogger } from "../../src/log.js";
import type { StepKind } from "../../src/steps/types.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { proxiedPool } from "../helpers/proxy.js";
import { catalogOf, poolOnlyClients, probe, probeEngine, step, waitFor, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("engine_lease");
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

const engine = (defs: WorkflowDefinition[], p: ReturnType<typeof probe>, extra: Partial<EngineOptions>) =>
  probeEngine(db.pool, engines, defs, p, { pollMs: 50, ...extra });

describe("leases between engines", () => {
  it("two engines on one database execute every run exactly once", async () => {
    const p = probe();
    const wf = workflow("shared", [
      step("probe", { key: "${{ event.n }}" }),
      step("probe", { key: "${{ event.n }}-2" }),
    ]);
    const a = engine([wf], p, { owner: "a", maxRuns: 5 });
    const b = engine([wf], p, { owner: "b", maxRuns: 5 });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await a.trigger("shared", { n: `n${i}` })).runId);
    await Promise.all([a.start(), b.start()]);
    for (const id of ids) expect((await a.waitForRun(id)).status).toBe("succeeded");
    for (let i = 0; i < 40; i++) {
      expect(p.tries(`n${i}`)).toBe(1);
      expect(p.tries(`n${i}-2`)).toBe(1);
    }
  });

  it("keeps a run on its engine while the lease is renewed, and stops it there when the lease is lost", async () => {
    const p = probe();
    const wf = workflow("held", [step("probe", { key: "h", gate: "h" })]);
    // Short leases, but not so short that a loaded machine misses a renewal: an engine that cannot renew
    // a lease in time stops executing the run (see the partition test below).
    const a = engine([wf], p, { owner: "a", leaseMs: 600 });
    await a.start();
    const { runId } = await a.trigger("held");
    await waitFor(() => p.tries("h") === 1);
    const b = engine([wf], p, { owner: "b", leaseMs: 600 });
    await b.start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.inFlight()).toBe(0);
    expect(p.tries("h")).toBe(1);
    await b.stop();
    // Another owner takes the run (as if A had stalled past its lease): A must stop executing it.
    await db.pool.query("UPDATE skyflow.runs SET lease_owner = 'thief' WHERE id = $1", [runId]);
    await waitFor(() => p.aborted("h") === 1);
    expect(a.inFlight()).toBe(0);
  });

  it("stops executing a run before its lease can expire when the database stops answering, so another engine never runs it at the same time", async () => {
    const pa = probe();
    const pb = probe();
    const wf = workflow("cut_off", [step("probe", { key: "k", gate: "k" })]);
    // Engine a reaches the database through a proxy that the test freezes, as a network partition would.
    const { proxy, pool } = await proxiedPool(db.url, 4);
    const a = createEngine({
      pool,
      catalog: catalogOf([wf]),
      clients: poolOnlyClients(pool),
      log: silentLogger(),
      stepKinds: { probe: pa.kind },
      owner: "a",
      leaseMs: 1200,
      pollMs: 50,
    });
    // What b's try finds when it starts: whether a's try of the same step was stopped by then.
    let aStoppedWhenBStarted: number | undefined;
    const watched: StepKind = {
      ...pb.kind,
      run: (ctx) => {
        aStoppedWhenBStarted ??= pa.aborted("k");
        return pb.kind.run(ctx);
      },
    };
    try {
      await a.start();
      const { runId } = await a.trigger("cut_off");
      // The try has begun, durably: its begin save (held back at first) has landed.
      await waitFor(
        async () =>
          (await db.pool.query("SELECT 1 FROM skyflow.step_tries WHERE run_id = $1", [runId])).rowCount === 1,
      );
      proxy.freeze();
      const b = engine([wf], pb, { owner: "b", leaseMs: 1200, stepKinds: { probe: watched } });
      await b.start();
      await waitFor(() => pb.tries("k") === 1, 10_000);
      expect(aStoppedWhenBStarted).toBe(1);
      expect(a.inFlight()).toBe(0);
      pb.open("k");
      expect((await b.waitForRun(runId)).status).toBe("succeeded");
      expect(pa.tries("k")).toBe(1);
      // a's stop returns while the partition lasts: it waits for no statement beyond a lease.
      const stopped = await Promise.race([
        a.stop({ graceMs: 0 }).then(() => "stopped"),
        new Promise((r) => setTimeout(() => r("still waiting after 5 s"), 5_000)),
      ]);
      expect(stopped).toBe("stopped");
    } finally {
      await proxy.close();
      await a.stop({ graceMs: 0 });
      await pool.end();
    }
  });

  it("hands its runs back on stop so another engine resumes them at once", async () => {
    const p = probe();
    const wf = workflow("handover", [
      step("probe", { key: "first" }, { id: "first" }),
      step("probe", { key: "second", gate: "second" }, { id: "second" }),
    ]);
    const a = engine([wf], p, { owner: "a", leaseMs: 60_000 });
    await a.start();
    const { runId } = await a.trigger("handover");
    await waitFor(() => p.tries("second") === 1);
    await a.stop({ graceMs: 0 });
    const row = await db.pool.query("SELECT status, lease_owner FROM skyflow.runs WHERE id = $1", [runId]);
    expect(row.rows[0]).toEqual({ status: "waiting", lease_owner: null });
    p.open("second");
    const b = engine([wf], p, { owner: "b", leaseMs: 60_000 });
    await b.start();
    expect((await b.waitForRun(runId)).status).toBe("succeeded");
    expect(p.tries("first")).toBe(1);
    expect(p.tries("second")).toBe(2);
  });

  it("an engine restarted under the same name resumes its earlier runs at once, and its own runs once", async () => {
    const p = probe();
    const wf = workflow("again", [
      step("probe", { key: "${{ event.n }}" }, { id: "first" }),
      step("probe", { key: "${{ event.n }}-2", gate: "${{ event.n }}" }, { id: "second" }),
    ]);
    const a = engine([wf], p, { owner: "same", leaseMs: 60_000 });
    await a.start();
    const { runId } = await a.trigger("again", { n: "old" });
    await waitFor(() => p.tries("old-2") === 1);
    // As if the process died: the row stays leased (for a minute) to that incarnation, which is gone.
    await db.pool.query("UPDATE skyflow.runs SET lease_owner = 'same#gone' WHERE id = $1", [runId]);
    await a.stop({ graceMs: 0 });
    p.open("old");
    const b = engine([wf], p, { owner: "same", leaseMs: 60_000 });
    const starting = b.start();
    // Runs created while it starts are this incarnation's: claimOwn must not claim them a second time.
    const fresh: string[] = [];
    for (let i = 0; i < 5; i++) fresh.push((await b.trigger("again", { n: `new${i}` })).runId);
    await starting;
    for (let i = 0; i < 5; i++) p.open(`new${i}`);
    expect((await b.waitForRun(runId, 10_000)).status).toBe("succeeded");
    for (const id of fresh) expect((await b.waitForRun(id, 10_000)).status).toBe("succeeded");
    const { rows } = await db.pool.query<{ id: string; claims: number }>(
      "SELECT id, claims FROM skyflow.runs WHERE id = ANY($1)",
      [fresh],
    );
    // Created leased to b (handed over, never claimed), and not claimed again by b's claimOwn.
    expect(rows.map((r) => r.claims)).toEqual([0, 0, 0, 0, 0]);
    for (let i = 0; i < 5; i++) expect([p.tries(`new${i}`), p.tries(`new${i}-2`)]).toEqual([1, 1]);
    expect(p.tries("old")).toBe(1);
  });
});
