// The shared pool survives connections that the server drops, idle or checked out.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createPool, pipelined, poolDb, warmPool, withTransaction } from "../../src/db/pool.js";
import { useTestDatabase } from "../helpers/db.js";
import { proxiedPool } from "../helpers/proxy.js";
import { waitFor } from "../helpers/wait.js";

const db = useTestDatabase("pool");

describe("pool", () => {
  it("warmPool takes only the connections not in use: it never waits for a transaction of the caller's", async () => {
    const pool = createPool(db.url, { max: 2, applicationName: "skyflow-pool-test" });
    try {
      const held = await pool.connect();
      await held.query("BEGIN");
      await warmPool(pool, 2, [{ name: "skyflow_test_warm", text: "SELECT $1::int AS n", values: [0] }]);
      expect([pool.totalCount, pool.idleCount]).toEqual([2, 1]);
      await held.query("COMMIT");
      held.release();
    } finally {
      await pool.end();
    }
  });

  it("warmPool opens the connections at once and prepares the named statements on each", async () => {
    const pool = createPool(db.url, { max: 3, applicationName: "skyflow-pool-test" });
    try {
      await warmPool(pool, 5, [{ name: "skyflow_test_warm", text: "SELECT $1::int AS n", values: [0] }]);
      // As many as the pool may hold, all idle now.
      expect([pool.totalCount, pool.idleCount]).toEqual([3, 3]);
      const clients = await Promise.all([1, 2, 3].map(() => pool.connect()));
      try {
        const seen = await Promise.all(
          clients.map(
            async (c) =>
              (
                await c.query<{ name: string; pid: number }>(
                  "SELECT name, pg_backend_pid() AS pid FROM pg_prepared_statements",
                )
              ).rows,
          ),
        );
        expect(seen.map((rows) => rows.map((r) => r.name))).toEqual([
          ["skyflow_test_warm"],
          ["skyflow_test_warm"],
          ["skyflow_test_warm"],
        ]);
        expect(new Set(seen.map((rows) => rows[0]!.pid)).size).toBe(3);
      } finally {
        for (const c of clients) c.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("keeps `min` connections open while idle and closes the others after the idle timeout", async () => {
    const kept = createPool(db.url, {
      max: 4,
      min: 2,
      idleTimeoutMs: 100,
      applicationName: "skyflow-pool-test",
    });
    const plain = createPool(db.url, { max: 4, idleTimeoutMs: 100, applicationName: "skyflow-pool-test" });
    try {
      for (const pool of [kept, plain]) await warmPool(pool, 4);
      expect([kept.totalCount, plain.totalCount]).toEqual([4, 4]);
      await waitFor(() => kept.totalCount === 2 && plain.totalCount === 0, 5_000, "idle connections closed");
      // Still there well after the timeout, and usable.
      await new Promise((r) => setTimeout(r, 400));
      expect(kept.totalCount).toBe(2);
      expect((await kept.query<{ n: number }>("SELECT 1 AS n")).rows[0]!.n).toBe(1);
    } finally {
      await Promise.all([kept.end(), plain.end()]);
    }
  });

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
        // pg marks a client whose connection ended as no longer queryable.
        await waitFor(() => !(c as unknown as { _queryable: boolean })._queryable, 5_000, "the client ended");
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

describe("pipelined statements (values bound, never spliced into the text)", () => {
  const hostile = "it's $j$ a \\ test $$; DROP TABLE pipe_t; --";

  it("sends a statement with the BEGIN and another with the COMMIT, each in one round trip", async () => {
    const db2 = poolDb(db.pool);
    await db.pool.query("CREATE TABLE IF NOT EXISTS pipe_t (v text)");
    const first = await db2.tx(
      async (tx) => {
        await tx.commitWith({ text: "INSERT INTO pipe_t (v) VALUES ($1)", values: [hostile] });
        return tx.first;
      },
      {
        first: {
          text: "SELECT $1::text AS v, current_setting('synchronous_commit') AS sc",
          values: [hostile],
        },
        asyncCommit: true,
      },
    );
    expect(first).toEqual([{ v: hostile, sc: "off" }]);
    expect((await db.pool.query("SELECT v FROM pipe_t WHERE v = $1", [hostile])).rowCount).toBe(1);
    // Its SET LOCAL ended with it.
    expect((await db.pool.query("SHOW synchronous_commit")).rows[0].synchronous_commit).toBe("on");
  });

  it("a statement that fails with the COMMIT rolls everything back, throws its error, and leaves the client usable", async () => {
    const db2 = poolDb(db.pool);
    await db.pool.query("CREATE TABLE IF NOT EXISTS pipe_u (v text NOT NULL)");
    await expect(
      db2.tx(async (tx) => {
        await tx.query("INSERT INTO pipe_u (v) VALUES ($1)", ["kept?"]);
        await tx.commitWith({ text: "INSERT INTO pipe_u (v) VALUES ($1)", values: [null] });
      }),
    ).rejects.toMatchObject({ code: "23502" });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM pipe_u")).rows[0].n).toBe(0);
    // `single`: BEGIN, the statement and COMMIT at once; a failure commits nothing either.
    await expect(
      db2.single({ text: "INSERT INTO pipe_u (v) VALUES ($1)", values: [null] }),
    ).rejects.toMatchObject({
      code: "23502",
    });
    const ok = await db2.single<{ v: string }>({
      text: "INSERT INTO pipe_u (v) VALUES ($1) RETURNING v",
      values: [hostile],
    });
    expect(ok.rows).toEqual([{ v: hostile }]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM pipe_u")).rows[0].n).toBe(1);
    // Every client is back in one-statement-at-a-time mode and outside any transaction.
    const clients = await Promise.all([db.pool.connect(), db.pool.connect()]);
    for (const c of clients) {
      expect((c as unknown as { pipeline: boolean }).pipeline).toBe(false);
      expect((await c.query("SELECT now() = statement_timestamp() AS fresh")).rows[0].fresh).toBe(true);
      c.release();
    }
  });

  it("pipelined() answers each statement in order, the first error after all have answered", async () => {
    const c = await db.pool.connect();
    try {
      const r = await pipelined(c, ["SELECT 1 AS a", { text: "SELECT $1::int + 1 AS b", values: [1] }]);
      expect(r.map((x) => x.rows[0])).toEqual([{ a: 1 }, { b: 2 }]);
      await expect(
        pipelined(c, ["SELECT 1/0", { text: "SELECT $1::text AS c", values: ["x"] }]),
      ).rejects.toThrow(/division by zero/);
      expect((await c.query("SELECT 3 AS d")).rows).toEqual([{ d: 3 }]);
      // Nothing to send answers at once (no callback would ever count it down).
      expect(await pipelined(c, [])).toEqual([]);
    } finally {
      c.release();
    }
  });

  it("pipelined() hands pg its own Query objects (no config for pg to copy), keeping names and timeouts", async () => {
    const c = await db.pool.connect();
    const given: unknown[] = [];
    const query = c.query.bind(c);
    (c as unknown as { query: (q: unknown) => unknown }).query = (q: unknown) => {
      given.push(q);
      return query(q as never);
    };
    try {
      const name = `pool_test_named_${process.pid}`;
      const r = await pipelined(c, ["SELECT 1 AS a", { name, text: "SELECT $1::int * 2 AS b", values: [4] }]);
      expect(r.map((x) => x.rows[0])).toEqual([{ a: 1 }, { b: 8 }]);
      expect(given.every((q) => q instanceof pg.Query)).toBe(true);
      expect((given[1] as { name?: string }).name).toBe(name);
      // Prepared under its name on this connection: run again by name, it answers from that statement.
      expect((await pipelined(c, [{ name, text: "SELECT $1::int * 2 AS b", values: [5] }]))[0]!.rows).toEqual(
        [{ b: 10 }],
      );
      // A statement's timeout, and the one given for all, still bound each one.
      await expect(pipelined(c, [{ text: "SELECT pg_sleep(2)", timeoutMs: 200 }])).rejects.toThrow(
        /Query read timeout/,
      );
    } finally {
      c.release(true);
    }
    const d = await db.pool.connect();
    try {
      await expect(pipelined(d, ["SELECT 1", "SELECT pg_sleep(2)"], 200)).rejects.toThrow(
        /Query read timeout/,
      );
    } finally {
      d.release(true);
    }
  });
});
