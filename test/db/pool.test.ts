// The shared pool survives connections that the server drops, idle or checked out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, withTransaction } from "../../src/db/pool.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { proxiedPool } from "../helpers/proxy.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("pool");
});
afterAll(async () => {
  await db.drop();
});

describe("pool", () => {
  it("survives the server dropping a checked-out client between statements: the transaction fails, the pool goes on", async () => {
    const pool = createPool(db.url, { max: 2, applicationName: "skyflow-pool-test" });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    try {
      const tx = withTransaction(pool, async (c) => {
        const { rows } = await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        // While this client is checked out and idle in its transaction, the server ends its connection.
        await db.pool.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
        await new Promise((r) => setTimeout(r, 200));
        await c.query("SELECT 1");
      });
      await expect(tx).rejects.toThrow();
      // The dead client was discarded: the next checkouts work.
      const again = await Promise.all([pool.query("SELECT 1 AS n"), pool.query("SELECT 2 AS n")]);
      expect(again.map((r) => r.rows[0].n)).toEqual([1, 2]);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
      await pool.end();
    }
  });

  it("fails a new connection that gets no answer within its connect timeout, but not a checkout waiting for a free client", async () => {
    const { proxy, pool } = await proxiedPool(db.url, 1);
    try {
      // One client, held for 1.5 s: the second checkout waits longer than the 1 s connect timeout, and works.
      const held = await pool.connect();
      const waiting = pool.query("SELECT 1 AS n");
      await new Promise((r) => setTimeout(r, 1_500));
      held.release();
      expect((await waiting).rows[0].n).toBe(1);
      // Through the frozen proxy a new connection (the pool's one client discarded first) fails in time.
      const c = await pool.connect();
      c.release(true);
      proxy.freeze();
      const t0 = Date.now();
      await expect(pool.query("SELECT 1")).rejects.toThrow(/timeout/i);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      await proxy.close();
      await pool.end();
    }
  });
});
