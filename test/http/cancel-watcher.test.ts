import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CANCEL_REQUESTS, CancelWatcher } from "../../src/http/actions.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cancel_watcher");
});
afterAll(async () => {
  await db.drop();
});

describe("CancelWatcher", () => {
  it("reads the flagged runs through their index even with statistics taken on an empty table, all of them", async () => {
    // As a record backlog's drain: the table analyzed while empty, then filled.
    await db.pool.query("VACUUM ANALYZE skyflow.runs");
    await db.pool.query(
      `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, cancel_requested_at)
       SELECT gen_random_uuid(), 'w', 'v', 'e' || i, '{}', 'succeeded', CASE WHEN i % 20 = 0 THEN now() END
       FROM generate_series(1, 5000) i`,
    );
    const plan = await db.pool.query(`EXPLAIN (FORMAT JSON) ${CANCEL_REQUESTS}`, [randomUUID(), 100]);
    expect(JSON.stringify(plan.rows[0]["QUERY PLAN"])).toContain('"Index Name":"runs_cancel_requested"');
    const asked: string[] = [];
    const watcher = new CancelWatcher({
      db: db.pool,
      engine: { cancel: (id) => asked.push(id) > 0, wake: () => {} },
      log: silentLogger(),
      intervalMs: 60_000,
    });
    await watcher.tick();
    watcher.stop();
    // Finished runs' flags are cleared without asking the engine: every one of the 250, past the first page.
    expect(asked).toEqual([]);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE cancel_requested_at IS NOT NULL",
    );
    expect(rows[0].n).toBe(0);
  });
});
