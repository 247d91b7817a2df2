// pipelined() in a transaction: every statement behind one Sync (one ReadyForQuery per round trip), the
// server stopping at the first failure, prepared names kept right across failures.
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { commandsOf } from "../../src/db/batch.js";
import { pipelined } from "../../src/db/pool.js";
import { useTestDatabase } from "../helpers/db.js";

const db = useTestDatabase("batch", async (db) => {
  await db.pool.query("CREATE TABLE batch_t (v text NOT NULL)");
});

interface Internals {
  readyForQuery: boolean;
  connection: { on(e: string, f: () => void): void; off(e: string, f: () => void): void };
  _txStatus: string;
}

/**
 * Until the client has its ReadyForQuery: a batch fails as the server's error arrives, and the ReadyForQuery
 * after it can come in a later read (a loaded machine splits them).
 */
async function ready(c: pg.PoolClient): Promise<void> {
  while (!(c as unknown as Internals).readyForQuery) await new Promise((r) => setImmediate(r));
}

/** Runs `fn` on a client, counting the ReadyForQuery messages (one per Sync or simple query) it sees. */
async function counting<T>(fn: (c: pg.PoolClient, syncs: () => number) => Promise<T>): Promise<T> {
  const c = await db.pool.connect();
  let n = 0;
  const seen = () => n++;
  const conn = (c as unknown as Internals).connection;
  conn.on("readyForQuery", seen);
  try {
    return await fn(c, () => n);
  } finally {
    conn.off("readyForQuery", seen);
    await c.query("ROLLBACK").catch(() => {});
    c.release(true);
  }
}

describe("pipelined() behind one Sync", () => {
  it("answers a BEGIN with SET LOCALs, strings and bound statements in order, in one round trip", async () => {
    await counting(async (c, syncs) => {
      const rs = await pipelined(c, [
        `BEGIN; SET LOCAL search_path TO "a;b", public; SET LOCAL synchronous_commit TO off`,
        "SELECT current_setting('search_path') AS p, current_setting('synchronous_commit') AS s",
        { text: "INSERT INTO batch_t (v) VALUES ($1), ($2) RETURNING v", values: ["x; y", "it's"] },
        "COMMIT",
      ]);
      expect(syncs()).toBe(1);
      // A string of several commands answers with one result each, as a simple query does.
      expect((rs[0] as unknown as pg.QueryResult[]).map((r) => r.command)).toEqual(["BEGIN", "SET", "SET"]);
      expect(rs[1]!.rows).toEqual([{ p: '"a;b", public', s: "off" }]);
      expect(rs[2]!.rows).toEqual([{ v: "x; y" }, { v: "it's" }]);
      expect(rs[2]!.rowCount).toBe(2);
      expect(rs[3]!.command).toBe("COMMIT");
      expect((c as unknown as Internals)._txStatus).toBe("I");
    });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM batch_t")).rows[0].n).toBe(2);
    await db.pool.query("TRUNCATE batch_t");
  });

  it("stops at a failed statement: nothing after it runs, and a COMMIT after it ends the transaction (rolled back)", async () => {
    await counting(async (c, syncs) => {
      await expect(
        pipelined(c, [
          "BEGIN",
          { text: "INSERT INTO batch_t (v) VALUES ($1)", values: ["before"] },
          { text: "INSERT INTO batch_t (v) VALUES ($1)", values: [null] },
          { text: "SELECT pg_advisory_xact_lock($1)", values: [424242] },
          "COMMIT",
        ]),
      ).rejects.toMatchObject({ code: "23502" });
      // The batch, then the ROLLBACK sent for its skipped COMMIT: out of the transaction, as a COMMIT after a
      // failed statement leaves it.
      expect(syncs()).toBe(2);
      expect((c as unknown as Internals)._txStatus).toBe("I");
      const locks = await db.pool.query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242",
      );
      expect(locks.rows[0].n).toBe(0);
      // Without a COMMIT, the transaction is left failed, for the caller to roll back.
      await expect(
        pipelined(c, ["BEGIN", { text: "INSERT INTO batch_t (v) VALUES ($1)", values: [null] }]),
      ).rejects.toMatchObject({ code: "23502" });
      await ready(c);
      expect(syncs()).toBe(3);
      expect((c as unknown as Internals)._txStatus).toBe("E");
      await c.query("ROLLBACK");
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM batch_t")).rows[0].n).toBe(0);
  });

  it("keeps a prepared name right when its statement fails: parsed once, and again after an unsure failure", async () => {
    await counting(async (c) => {
      const name = `batch_named_${process.pid}`;
      const st = (v: number) => ({ name, text: "SELECT 10 / $1::int AS q", values: [v] });
      expect((await pipelined(c, ["BEGIN", st(2)]))[1]!.rows).toEqual([{ q: 5 }]);
      expect((await pipelined(c, [st(5), "COMMIT"]))[0]!.rows).toEqual([{ q: 2 }]);
      // Prepared once on this connection.
      const prepared = async () =>
        (await c.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = $1", [name]))
          .rows[0].n;
      expect(await prepared()).toBe(1);
      // The same name twice in one batch (a group's members share their statement): parsed once.
      const twice = await pipelined(c, ["BEGIN", st(1), st(10), "COMMIT"]);
      expect([twice[1]!.rows, twice[2]!.rows]).toEqual([[{ q: 10 }], [{ q: 1 }]]);
      const fresh = `${name}_d`;
      const st4 = (v: number) => ({ name: fresh, text: "SELECT 20 / $1::int AS q", values: [v] });
      const both = await pipelined(c, ["BEGIN", st4(1), st4(2), "COMMIT"]);
      expect([both[1]!.rows, both[2]!.rows]).toEqual([[{ q: 20 }], [{ q: 10 }]]);
      // A fresh name failing at its Execute (its Parse went through): the next batch with it still works.
      const other = `${name}_b`;
      const st2 = (v: number) => ({ name: other, text: "SELECT 7 / $1::int AS q", values: [v] });
      await expect(pipelined(c, ["BEGIN", st2(0)])).rejects.toThrow(/division by zero/);
      await c.query("ROLLBACK");
      expect((await pipelined(c, ["BEGIN", st2(7)]))[1]!.rows).toEqual([{ q: 1 }]);
      await c.query("COMMIT");
      // Failing at its Parse: not prepared, and sent with a Parse again next time.
      const bad = `${name}_c`;
      await expect(
        pipelined(c, ["BEGIN", { name: bad, text: "SELECT $1::int FROM no_such_table", values: [1] }]),
      ).rejects.toMatchObject({ code: "42P01" });
      await c.query("ROLLBACK");
      await db.pool.query("CREATE TABLE no_such_table (x int)");
      const ok = await pipelined(c, [
        "BEGIN",
        { name: bad, text: "SELECT $1::int FROM no_such_table", values: [1] },
      ]);
      expect(ok[1]!.rows).toEqual([]);
      await c.query("COMMIT");
    });
  });

  it("bounds the batch by its statements' timeout", async () => {
    const c = await db.pool.connect();
    try {
      await expect(
        pipelined(c, ["BEGIN", { text: "SELECT pg_sleep($1)", values: [2], timeoutMs: 200 }], 200),
      ).rejects.toThrow(/Query read timeout/);
    } finally {
      c.release(true);
    }
  });

  it("a value pg cannot send fails the batch before anything is written", async () => {
    await counting(async (c, syncs) => {
      await c.query("BEGIN");
      const before = syncs();
      const circular: { toPostgres?: () => unknown } = {};
      circular.toPostgres = () => circular;
      await expect(pipelined(c, [{ text: "SELECT $1::text", values: [circular] }, "COMMIT"])).rejects.toThrow(
        /circular/,
      );
      expect(syncs()).toBe(before);
      expect((c as unknown as Internals)._txStatus).toBe("T");
    });
  });
});

describe("commandsOf", () => {
  it("splits at semicolons outside quotes, and gives up where it cannot tell", () => {
    expect(commandsOf("BEGIN; SET LOCAL a TO off")).toEqual(["BEGIN", "SET LOCAL a TO off"]);
    expect(commandsOf(`SET LOCAL search_path TO "x;y", public;`)).toEqual([
      `SET LOCAL search_path TO "x;y", public`,
    ]);
    expect(commandsOf("SELECT 'a;b'; SELECT 'it''s'")).toEqual(["SELECT 'a;b'", "SELECT 'it''s'"]);
    for (const t of [
      "SELECT $$;$$",
      "SELECT 1 -- ;",
      "SELECT /* ; */ 1",
      "SELECT E'\\';'",
      "SELECT 'open",
      " ; ",
    ])
      expect(commandsOf(t)).toBeNull();
  });
});
