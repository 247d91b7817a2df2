// The record trigger before its first claim: its connections open, its claim and run insert prepared on each
// (a fresh daemon's first changes waited for new backends and parses), and nothing changed by that.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../../src/db/pool.js";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { catalog, countRuns, createRecordTable, insertRecord, waitFor, workflow } from "./helpers.js";

const APP = "app_warm";
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("triggers_warm");
  await createRecordTable(db.pool, APP, "task");
});
afterAll(async () => {
  await db.drop();
});

describe("record trigger warm-up", () => {
  it("prepares the claim and the run insert on each of its connections before its first claim", async () => {
    const pool = createPool(db.url, { max: 3 });
    const cat = catalog([
      workflow("on_task", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
    ]);
    const triggers = await startTriggers({
      pool,
      catalog: cat,
      appSchema: APP,
      wake: () => {},
      log: silentLogger(),
    });
    try {
      const clients = await Promise.all([1, 2, 3].map(() => pool.connect()));
      let names: string[][];
      try {
        names = await Promise.all(
          clients.map(async (c) =>
            (
              await c.query<{ name: string }>(
                "SELECT name FROM pg_prepared_statements WHERE name LIKE 'skyflow_%' ORDER BY name",
              )
            ).rows.map((r) => r.name),
          ),
        );
      } finally {
        for (const c of clients) c.release();
      }
      // (One of them may also hold the attach poll's statement.)
      for (const n of names)
        expect(n).toEqual(expect.arrayContaining(["skyflow_claim_outbox", "skyflow_enqueue_runs"]));
      expect(await countRuns(db.pool, "on_task")).toBe(0);
      // The changes still go their way: one run for one record.
      await insertRecord(db.pool, APP, "task", "t1");
      await waitFor(
        () => countRuns(db.pool, "on_task"),
        (n) => n === 1,
      );
    } finally {
      await triggers.stop();
      await pool.end();
    }
  });
});
