import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparedCall } from "../../src/db/pool.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("pool");
});
afterAll(async () => {
  await db.drop();
});

describe("preparedCall", () => {
  it("prepares a statement once per connection and runs it inside a one-round-trip simple query", async () => {
    const [a, b] = [await db.pool.connect(), await db.pool.connect()];
    try {
      const sql = "SELECT $1::text || '-' || $2::int AS v, current_setting('synchronous_commit') AS sc";
      const prepared = async (c: typeof a) =>
        (await c.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'probe_call'"))
          .rows[0].n;
      const call = async (c: typeof a, x: string, n: number) => {
        const text = await preparedCall(c, "probe_call", ["text", "int"], sql, [
          c.escapeLiteral(x),
          String(n),
        ]);
        const r = (await c.query(`SET LOCAL synchronous_commit TO off; ${text}`)) as unknown as {
          rows: { v: string; sc: string }[];
        }[];
        return r[1]!.rows[0];
      };
      expect(await call(a, "it's", 1)).toEqual({ v: "it's-1", sc: "off" });
      expect(await call(a, "again", 2)).toEqual({ v: "again-2", sc: "off" });
      expect(await prepared(a)).toBe(1);
      expect(await prepared(b)).toBe(0);
      expect(await call(b, "other", 3)).toEqual({ v: "other-3", sc: "off" });
      expect(await prepared(b)).toBe(1);
      // SET LOCAL lasted only for its own implicit transaction.
      expect((await a.query("SHOW synchronous_commit")).rows[0].synchronous_commit).toBe("on");
    } finally {
      a.release();
      b.release();
    }
  });
});
