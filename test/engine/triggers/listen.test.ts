// The record trigger's LISTEN connection comes back after the server drops it, without waiting for the
// safety-net poll (set to a minute here so only LISTEN can deliver in time).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { catalog, countRuns, createRecordTable, insertRecord, waitFor, workflow } from "./helpers.js";

const APP = "app_listen";
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("triggers_listen");
  await createRecordTable(db.pool, APP, "task");
});
afterAll(async () => {
  await db.drop();
});

const listenPids = async () =>
  (
    await db.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'skyflow-listen' AND datname = current_database()",
    )
  ).rows.map((r) => r.pid);

describe("record trigger LISTEN connection", () => {
  it("reconnects after its backend is terminated and keeps delivering changes promptly", async () => {
    const cat = catalog([
      workflow("l", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
    ]);
    const t = await startTriggers({
      pool: db.pool,
      catalog: cat,
      appSchema: APP,
      wake: () => {},
      log: silentLogger(),
      pollMs: 60_000,
    });
    try {
      const first = await waitFor(listenPids, (p) => p.length === 1);
      await insertRecord(db.pool, APP, "task", "before");
      expect(
        await waitFor(
          () => countRuns(db.pool, "l"),
          (n) => n === 1,
          3_000,
        ),
      ).toBe(1);
      await db.pool.query("SELECT pg_terminate_backend($1)", [first[0]]);
      const second = await waitFor(listenPids, (p) => p.length === 1 && p[0] !== first[0], 5_000);
      expect(second).toHaveLength(1);
      await insertRecord(db.pool, APP, "task", "after");
      expect(
        await waitFor(
          () => countRuns(db.pool, "l"),
          (n) => n === 2,
          3_000,
        ),
      ).toBe(2);
    } finally {
      await t.stop();
    }
  });
});
