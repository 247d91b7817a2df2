// A sql step's effect and the record of its success commit together (StepContext.commit): a run given up
// after that commit resumes past the step without running its statement again, and a run whose lease is
// lost before the COMMIT rolls the effect back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/db/pool.js";
import type { Engine } from "../../src/engine/engine.js";
import { sql } from "../../src/steps/sql.js";
import { backendsRunning, createTestDatabase, type TestDatabase, withRowTrigger } from "../helpers/db.js";
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
  // The save that follows the step's COMMIT fails (as it would were the engine to crash then): the run is
  // given up there, and resumed once its lease runs out. As a new run's first step, the COMMIT stored the
  // state after the try (its begin was not saved: runner.ts); after another step, the try's row alone, which
  // the resume reads back.
  for (const first of [true, false]) {
    it(`is not run again when its run is given up after the COMMIT, before the save that follows it (${first ? "first step" : "after another"})`, async () => {
      const name = first ? "once" : "once2";
      await db.pool.query("INSERT INTO app_skyflow.counters (name) VALUES ($1)", [name]);
      const p = probe();
      const wf = workflow(`bump_${name}`, [
        ...(first ? [] : [step("probe", { key: "before" })]),
        step(
          "sql",
          { statement: `UPDATE counters SET n = n + 1 WHERE name = '${name}' RETURNING n` },
          { id: "bump" },
        ),
        step("probe", { key: "after", out: { seen: "${{ steps.bump.output.rows[0].n }}" } }, { id: "after" }),
      ]);
      const seqName = `public.fail_after_${name}`;
      await db.pool.query(`CREATE SEQUENCE ${seqName}`);
      const failed = await withRowTrigger(
        db.pool,
        {
          name: `fail_after_${name}`,
          table: "skyflow.runs",
          timing: "BEFORE UPDATE",
          body: `IF NEW.workflow = 'bump_${name}' AND NEW.snapshot->'steps' ? 'after'
                    AND NOT coalesce(OLD.snapshot->'steps' ? 'after', false) THEN
                   IF nextval('${seqName}') = 1 THEN
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
          const { runId } = await e.trigger(`bump_${name}`);
          return e.waitForRun(runId, 20_000);
        },
      );
      // The save did fail once: the save that then began the next step was another.
      const seq = await db.pool.query(`SELECT last_value::int AS n FROM ${seqName}`);
      expect(seq.rows[0]).toEqual({ n: 2 });
      expect(failed.status).toBe("succeeded");
      expect(await counter(name)).toBe(1);
      expect(
        failed.tries
          .filter((t) => t.stepKey === "bump" || t.stepKey === "after")
          .map((t) => [t.stepKey, t.attempt, t.status]),
      ).toEqual([
        ["bump", 1, "succeeded"],
        ["after", 1, "succeeded"],
      ]);
      expect(failed.tries.find((t) => t.stepKey === "after")!.output).toEqual({ seen: 1 });
      expect(p.tries("after")).toBe(1);
    });
  }

  it("ends a run whose last step it is in the step's own transaction: no save of the run follows", async () => {
    await db.pool.query("INSERT INTO app_skyflow.counters (name) VALUES ('last')");
    await db.pool.query("CREATE TABLE public.run_updates (id uuid, status text, at serial)");
    const p = probe();
    const wf = workflow("bump_last", [
      step(
        "sql",
        { statement: "UPDATE counters SET n = n + $1 WHERE name = 'last' RETURNING n", params: [2] },
        { id: "bump" },
      ),
    ]);
    const done = await withRowTrigger(
      db.pool,
      {
        name: "count_run_updates",
        table: "skyflow.runs",
        timing: "AFTER UPDATE",
        body: "IF NEW.workflow = 'bump_last' THEN INSERT INTO public.run_updates VALUES (NEW.id, NEW.status); END IF;",
      },
      async () => {
        const e = probeEngine(db.pool, engines, [wf], p, { stepKinds: { probe: p.kind, sql } });
        await e.start();
        const { runId } = await e.trigger("bump_last");
        return e.waitForRun(runId, 20_000);
      },
    );
    expect(done.status).toBe("succeeded");
    expect(done.leaseOwner).toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(await counter("last")).toBe(2);
    // Created leased to the engine (trigger), the run's row is updated once: by the step's COMMIT with the
    // run's end; neither a begin save nor an ending one.
    const { rows } = await db.pool.query("SELECT status FROM public.run_updates WHERE id = $1 ORDER BY at", [
      done.id,
    ]);
    expect(rows.map((r) => r.status)).toEqual(["succeeded"]);
    expect(done.tries).toHaveLength(1);
    const t = done.tries[0]!;
    expect([t.stepKey, t.attempt, t.status]).toEqual(["bump", 1, "succeeded"]);
    expect(t.input).toMatchObject({ params: [2] });
    expect(t.output).toEqual({ rows: [{ n: 2 }], row_count: 1 });
    expect(t.finishedAt!.getTime()).toBeGreaterThanOrEqual(t.startedAt.getTime());
    expect((done.snapshot as { steps: Record<string, { status: string }> }).steps.bump!.status).toBe(
      "succeeded",
    );
  });

  it("writes a failed first try's row, with its input, in the save of its failure", async () => {
    const p = probe();
    const wf = workflow("bump_bad", [
      step("sql", { statement: "SELECT 1 / $1::int AS x", params: [0] }, { id: "bump" }),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p, { stepKinds: { probe: p.kind, sql } });
    await e.start();
    const { runId } = await e.trigger("bump_bad");
    const run = await e.waitForRun(runId, 20_000);
    expect(run.status).toBe("failed");
    expect(run.tries.map((t) => [t.stepKey, t.attempt, t.status])).toEqual([["bump", 1, "failed"]]);
    expect(run.tries[0]!.input).toMatchObject({ params: [0] });
    expect(run.tries[0]!.error?.message).toMatch(/division by zero/);
  });

  it("rolls a new run's first step back when the run's lease is lost before the COMMIT: the try never happened", async () => {
    await db.pool.query("INSERT INTO app_skyflow.counters (name) VALUES ('fenced1')");
    const p = probe();
    const wf = workflow("bump_fenced1", [
      step(
        "sql",
        { statement: "UPDATE counters SET n = n + 1 WHERE name = 'fenced1' RETURNING pg_sleep(0.5)" },
        { id: "bump" },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p, {
      stepKinds: { probe: p.kind, sql },
      leaseMs: 60_000,
    });
    await e.start();
    const { runId } = await e.trigger("bump_fenced1");
    await waitFor(
      async () => (await backendsRunning(db.pool, "UPDATE counters%fenced1%", "state = 'active'")) === 1,
      5_000,
    );
    await db.pool.query("UPDATE skyflow.runs SET lease_owner = 'thief' WHERE id = $1", [runId]);
    await waitFor(() => e.inFlight() === 0, 5_000);
    expect(await counter("fenced1")).toBe(0);
    const { rows } = await db.pool.query(
      "SELECT status, lease_owner, snapshot, (SELECT count(*)::int FROM skyflow.step_tries WHERE run_id = r.id) AS tries FROM skyflow.runs r WHERE id = $1",
      [runId],
    );
    expect(rows[0]).toEqual({ status: "running", lease_owner: "thief", snapshot: null, tries: 0 });
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
      async () => (await backendsRunning(db.pool, "UPDATE counters%", "state = 'active'")) === 1,
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
