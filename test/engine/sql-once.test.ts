// A sql step's effect and the record of its success commit together (StepContext.commit): a run given up
// after that commit resumes past the step without running its statement again, and a run whose lease is
// lost before the COMMIT rolls the effect back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/db/pool.js";
import type { Engine } from "../../src/engine/engine.js";
import { sql } from "../../src/steps/sql.js";
import { createTestDatabase, type TestDatabase, withRowTrigger } from "../helpers/db.js";
import { probe, probeEngine, step, waitFor, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("engine_sql_once");
  await db.pool.query(`CREATE SCHEMA IF NOT EXISTS app_skyflow;
    CREATE TABLE app_skyflow.counters (name text PRIMARY KEY, n int NOT NULL DEFAULT 0)`);
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

const counter = async (name: string) =>
  (await db.pool.query<{ n: number }>("SELECT n FROM app_skyflow.counters WHERE name = $1", [name])).rows[0]!
    .n;

describe("a sql step commits with the record of its try", () => {
  it("is not run again when its run is given up after the COMMIT, before the save that follows it", async () => {
    await db.pool.query("INSERT INTO app_skyflow.counters (name) VALUES ('once')");
    const p = probe();
    const wf = workflow("bump_once", [
      step(
        "sql",
        { statement: "UPDATE counters SET n = n + 1 WHERE name = 'once' RETURNING n" },
        { id: "bump" },
      ),
      step("probe", { key: "after", out: { seen: "${{ steps.bump.output.rows[0].n }}" } }, { id: "after" }),
    ]);
    // The first save that records the sql step as succeeded fails (as it would were the engine to crash
    // then): the run is given up here, and resumed once its lease runs out.
    await db.pool.query("CREATE SEQUENCE public.fail_after_bump");
    const failed = await withRowTrigger(
      db.pool,
      {
        name: "fail_after_bump",
        table: "skyflow.runs",
        timing: "BEFORE UPDATE",
        body: `IF coalesce(NEW.snapshot->'steps'->'bump'->>'status', '') = 'succeeded'
                  AND coalesce(OLD.snapshot->'steps'->'bump'->>'status', '') <> 'succeeded' THEN
                 IF nextval('public.fail_after_bump') = 1 THEN
                   RAISE EXCEPTION 'injected save failure';
                 END IF;
               END IF;`,
      },
      async () => {
        const e = probeEngine(db.pool, engines, [wf], p, {
          stepKinds: { probe: p.kind, sql },
          leaseMs: 1000,
          pollMs: 50,
        });
        await e.start();
        const { runId } = await e.trigger("bump_once");
        return e.waitForRun(runId, 20_000);
      },
    );
    // The save did fail once: the save that then recorded the step was another.
    const seq = await db.pool.query("SELECT last_value::int AS n FROM public.fail_after_bump");
    expect(seq.rows[0]).toEqual({ n: 2 });
    expect(failed.status).toBe("succeeded");
    expect(await counter("once")).toBe(1);
    expect(failed.tries.map((t) => [t.stepKey, t.attempt, t.status])).toEqual([
      ["bump", 1, "succeeded"],
      ["after", 1, "succeeded"],
    ]);
    expect(failed.tries[1]!.output).toEqual({ seen: 1 });
    expect(p.tries("after")).toBe(1);
  });

  it("rolls its effect back when the run's lease is lost before the COMMIT", async () => {
    await db.pool.query("INSERT INTO app_skyflow.counters (name) VALUES ('fenced')");
    const p = probe();
    // The sql step comes second: its try began in the save that ended the first one (no begin held back,
    // whose save would find the lease lost first).
    const wf = workflow("bump_fenced", [
      step("probe", { key: "first" }),
      step(
        "sql",
        { statement: "UPDATE counters SET n = n + 1 WHERE name = 'fenced' RETURNING pg_sleep(0.5)" },
        { id: "bump" },
      ),
    ]);
    // A long lease: no renewal notices the loss first; only the record of the try does.
    const e = probeEngine(db.pool, engines, [wf], p, {
      stepKinds: { probe: p.kind, sql },
      leaseMs: 60_000,
    });
    await e.start();
    const { runId } = await e.trigger("bump_fenced");
    await waitFor(
      async () =>
        (
          await db.pool.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'UPDATE counters%' AND state = 'active'",
          )
        ).rowCount === 1,
      5_000,
    );
    await db.pool.query("UPDATE skyflow.runs SET lease_owner = 'thief' WHERE id = $1", [runId]);
    await waitFor(() => e.inFlight() === 0, 5_000);
    expect(await counter("fenced")).toBe(0);
    const { rows } = await db.pool.query("SELECT status, lease_owner FROM skyflow.runs WHERE id = $1", [
      runId,
    ]);
    expect(rows[0]).toEqual({ status: "running", lease_owner: "thief" });
  });

  it("finishes many runs at once on a small pool: a step holding a connection never waits for a save", async () => {
    await db.pool.query("INSERT INTO app_skyflow.counters (name) VALUES ('many')");
    const p = probe();
    const wf = workflow("bump_many", [
      step("sql", { statement: "UPDATE counters SET n = n + 1 WHERE name = 'many'" }, { id: "bump" }),
      step("probe", { key: "then" }),
    ]);
    const pool = createPool(db.url, { max: 3 });
    try {
      const e = probeEngine(pool, engines, [wf], p, { stepKinds: { probe: p.kind, sql } });
      await e.start();
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await e.trigger("bump_many", { n: i })).runId);
      for (const id of ids) expect((await e.waitForRun(id, 20_000)).status).toBe("succeeded");
      expect(await counter("many")).toBe(30);
      await e.stop({ graceMs: 0 });
    } finally {
      await pool.end();
    }
  });
});
