// Under the engine, the sql steps of runs claimed together commit in one transaction with their tries'
// records (src/steps/sql-group.ts); a member whose run's lease is lost rolls that transaction back, and the
// others then commit alone, once each.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { commitWith } from "../../src/db/pool.js";
import type { Engine } from "../../src/engine/engine.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { silentLogger } from "../../src/log.js";
import { sql } from "../../src/steps/sql.js";
import { backendsRunning, createTestDatabase, sequenceUsed, type TestDatabase } from "../helpers/db.js";
import { poolOnlyClients, probe, probeEngine, step, waitFor, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("engine_sql_group");
  await db.pool.query(`CREATE SCHEMA IF NOT EXISTS app_skyflow;
    CREATE SEQUENCE app_skyflow.ran;
    CREATE TABLE app_skyflow.seen (k text PRIMARY KEY, tx bigint NOT NULL DEFAULT txid_current(),
      n bigint NOT NULL DEFAULT nextval('app_skyflow.ran'))`);
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

/** `n` runs of `wf` stored before the engine starts, so that it claims them together. */
async function queued(wf: ReturnType<typeof workflow>, keys: string[]): Promise<string[]> {
  const runs = await enqueueRuns(
    db.pool,
    keys.map((k) => ({
      workflow: wf.name,
      version: wf.version,
      event: { id: k, type: "manual" as const, at: new Date().toISOString(), key: k },
    })),
  );
  return runs.map((r) => r.id);
}

async function runsOf(ids: string[]) {
  const { rows } = await db.pool.query(
    `SELECT r.id, r.status, r.lease_owner,
       (SELECT json_agg(json_build_array(t.step_key, t.attempt, t.status)) FROM skyflow.step_tries t
        WHERE t.run_id = r.id) AS tries
     FROM skyflow.runs r WHERE r.id = ANY($1) ORDER BY array_position($1, r.id)`,
    [ids],
  );
  return rows;
}

/**
 * `fn` while a sql step on the engine's pool runs, its transaction waiting for a lock the test holds: steps
 * that find none running go alone at once, and the engine's first would.
 */
async function whileOneRuns<T>(fn: () => Promise<T>): Promise<T> {
  const holder = await db.pool.connect();
  await holder.query("BEGIN; SELECT pg_advisory_xact_lock(4343)");
  const other = sql.run({
    input: { statement: "SELECT pg_advisory_xact_lock(4343), $1::int", params: [1] },
    signal: new AbortController().signal,
    attempt: 1,
    idempotencyKey: "other",
    log: silentLogger(),
    clients: poolOnlyClients(db.pool),
    commit: (c) => commitWith(c as never, { text: "SELECT 1" }).then(() => {}),
  });
  try {
    return await fn();
  } finally {
    await holder.query("COMMIT");
    holder.release();
    await other;
  }
}

const spent = () => sequenceUsed(db.pool, "app_skyflow.ran");

describe("sql steps of runs claimed together", () => {
  it("commit in one transaction with their tries' records", async () => {
    const wf = workflow("grouped", [
      step(
        "sql",
        { statement: "INSERT INTO seen (k) VALUES ($1)", params: ["${{ event.key }}"] },
        { id: "ins" },
      ),
    ]);
    const ids = await queued(wf, ["g1", "g2", "g3", "g4"]);
    const p = probe();
    const e = probeEngine(db.pool, engines, [wf], p, { stepKinds: { probe: p.kind, sql } });
    await whileOneRuns(async () => {
      await e.start();
      await waitFor(async () => (await runsOf(ids)).every((r) => r.status === "succeeded"), 20_000);
    });
    const { rows } = await db.pool.query("SELECT k, tx FROM app_skyflow.seen WHERE k LIKE 'g%' ORDER BY k");
    expect(rows.map((r) => r.k)).toEqual(["g1", "g2", "g3", "g4"]);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
    for (const r of await runsOf(ids)) expect(r.tries).toEqual([["ins", 1, "succeeded"]]);
  });

  it("run alone when one's lease is lost: the others commit once, it is rolled back", async () => {
    const wf = workflow("fenced", [
      step(
        "sql",
        { statement: "INSERT INTO seen (k) SELECT $1 FROM pg_sleep(0.3)", params: ["${{ event.key }}"] },
        { id: "ins" },
      ),
    ]);
    const ids = await queued(wf, ["f1", "f2", "f3"]);
    const before = await spent();
    const p = probe();
    const e = probeEngine(db.pool, engines, [wf], p, {
      stepKinds: { probe: p.kind, sql },
      leaseMs: 60_000,
    });
    await whileOneRuns(async () => {
      await e.start();
      await waitFor(
        async () => (await backendsRunning(db.pool, "INSERT INTO seen%", "wait_event = 'PgSleep'")) === 1,
        5_000,
      );
      await db.pool.query("UPDATE skyflow.runs SET lease_owner = 'thief' WHERE id = $1", [ids[1]]);
      await waitFor(async () => {
        const rs = await runsOf([ids[0]!, ids[2]!]);
        return rs.every((r) => r.status === "succeeded");
      }, 20_000);
    });
    await waitFor(() => e.inFlight() === 0, 5_000);
    const { rows } = await db.pool.query("SELECT k FROM app_skyflow.seen WHERE k LIKE 'f%' ORDER BY k");
    expect(rows.map((r) => r.k)).toEqual(["f1", "f3"]);
    const [r1, r2, r3] = await runsOf(ids);
    expect(r1!.tries).toEqual([["ins", 1, "succeeded"]]);
    expect(r3!.tries).toEqual([["ins", 1, "succeeded"]]);
    expect([r2!.status, r2!.lease_owner, r2!.tries]).toEqual(["running", "thief", null]);
    // Each statement ran in the group, rolled back at the stolen run's record, then once more alone.
    expect((await spent()) - before).toBe(3 + 3);
  });
});
