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
      type Prepared = { name: string; generic: number; custom: number };
      let prepared: Prepared[][];
      try {
        prepared = await Promise.all(
          clients.map(
            async (c) =>
              (
                await c.query<Prepared>(
                  `SELECT name, generic_plans::int AS generic, custom_plans::int AS custom
                   FROM pg_prepared_statements WHERE name LIKE 'skyflow_%' ORDER BY name`,
                )
              ).rows,
          ),
        );
      } finally {
        for (const c of clients) c.release();
      }
      // (One of them may also hold the attach poll's statement.)
      for (const p of prepared) {
        const warmed = p
          .filter((s) => s.name === "skyflow_claim_outbox" || s.name === "skyflow_enqueue_runs")
          .map((s) => ({ name: s.name, generic: s.generic > 0, custom: s.custom }));
        // Run as a claim's transaction runs them: their generic plans from the first, no custom one
        // (CLAIM_OPTIONS; the first poll's claim may have run on one connection since).
        expect(warmed).toEqual([
          { name: "skyflow_claim_outbox", generic: true, custom: 0 },
          { name: "skyflow_enqueue_runs", generic: true, custom: 0 },
        ]);
      }
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
