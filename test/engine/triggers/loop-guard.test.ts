// The loop guard: a workflow whose run saves the record type it watches stops at the configured depth.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { capturedLogger } from "../../helpers/log.js";
import { catalog, createRecordTable, insertRecord, runsOf, waitFor, workflow } from "./helpers.js";

const APP = "app_loop";
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("triggers_loop");
  await createRecordTable(db.pool, APP, "counter", "ADD COLUMN n double precision");
});
afterAll(async () => {
  await db.drop();
});

/** Plays the engine: each pending run "saves" the record again and records the write as the engine does. */
async function runPending(): Promise<number> {
  const { rows } = await db.pool.query<{ id: string; depth: number; key: string }>(
    `UPDATE skyflow.runs SET status = 'succeeded' WHERE status = 'pending'
     RETURNING id, depth, event->'record'->>'_id' AS key`,
  );
  for (const r of rows) {
    const key = r.key.split("/")[1]!;
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      const u = await c.query(
        `UPDATE ${APP}.counter SET n = n + 1, _updated_at = clock_timestamp() at time zone 'utc'
         WHERE _id = $1 RETURNING _updated_at::text AS at`,
        [key],
      );
      await c.query(
        `INSERT INTO skyflow.run_writes (record_type, record_key, op, updated_at, run_id, depth)
         VALUES ('counter', $1, 'save', $2::timestamp at time zone 'utc', $3, $4)`,
        [key, u.rows[0].at, r.id, r.depth],
      );
      await c.query("COMMIT");
    } finally {
      c.release();
    }
  }
  return rows.length;
}

describe("loop guard", () => {
  it("stops a self-triggering chain at the configured depth with a warning naming workflow, record and depth", async () => {
    const { log, lines } = capturedLogger("warn");
    const cat = catalog([
      workflow("bump", [
        { kind: "record", type: "counter", database: "_public", events: ["create", "update"] },
      ]),
    ]);
    const t = await startTriggers({
      pool: db.pool,
      catalog: cat,
      appSchema: APP,
      wake: () => {},
      log,
      loopDepth: 3,
    });
    try {
      await insertRecord(db.pool, APP, "counter", "c1", { n: 0 });
      for (let idle = 0, rounds = 0; idle < 20 && rounds < 200; rounds++) {
        idle = (await runPending()) > 0 ? 0 : idle + 1;
        await new Promise((r) => setTimeout(r, 50));
      }
      const runs = await runsOf(db.pool, "bump");
      expect(runs.map((r) => r.depth)).toEqual([0, 1, 2, 3]);
      const warn = await waitFor(
        async () => lines.join(""),
        (s) => s.includes("loop guard"),
      );
      const entry = JSON.parse(warn.split("\n").find((l) => l.includes("loop guard"))!);
      expect(entry).toMatchObject({ workflow: "bump", record: "counter/c1", depth: 4, max: 3 });
      // An outside save of the same record (a new _updated_at) starts a fresh chain at depth 0.
      await db.pool.query(
        `UPDATE ${APP}.counter SET n = 100, _updated_at = clock_timestamp() at time zone 'utc' WHERE _id = 'c1'`,
      );
      const after = await waitFor(
        () => runsOf(db.pool, "bump"),
        (r) => r.length === 5,
      );
      expect(after[4]!.depth).toBe(0);
    } finally {
      await t.stop();
    }
  });
});
