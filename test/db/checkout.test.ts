// checkout(): an idle pooled connection handed over in the same turn, as pg-pool would hand it over.
import { describe, expect, it } from "vitest";
import { checkout, isPromise } from "../../src/db/checkout.js";
import { createPool } from "../../src/db/pool.js";
import { useTestDatabase } from "../helpers/db.js";

const db = useTestDatabase("checkout");

describe("checkout", () => {
  it("hands over an idle connection at once, and it goes back to the pool on release", async () => {
    const pool = createPool(db.url, { max: 2, applicationName: "skyflow-checkout-test" });
    try {
      const first = checkout(pool);
      // None idle yet: pool.connect()'s promise.
      expect(isPromise(first)).toBe(true);
      const c = await first;
      const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      c.release();
      expect([pool.totalCount, pool.idleCount]).toEqual([1, 1]);
      const again = checkout(pool);
      expect(isPromise(again)).toBe(false);
      const c2 = again as Exclude<typeof again, Promise<unknown>>;
      expect([pool.totalCount, pool.idleCount]).toEqual([1, 0]);
      expect((await c2.query("SELECT pg_backend_pid() AS pid")).rows[0].pid).toBe(pid);
      c2.release();
      expect(pool.idleCount).toBe(1);
      // A second release of one checkout is pg-pool's error, as with pool.connect().
      expect(() => c2.release()).toThrow();
    } finally {
      await pool.end();
    }
  });

  it("does not take an idle connection ahead of callers already waiting for one", async () => {
    const pool = createPool(db.url, { max: 1, applicationName: "skyflow-checkout-test" });
    try {
      (await pool.connect()).release();
      // pool.connect() queues, and takes the idle connection on its next tick: until then it is idle and
      // this caller is waiting for it.
      const waiting = pool.connect();
      expect(pool.idleCount).toBe(1);
      const mine = checkout(pool);
      expect(isPromise(mine)).toBe(true);
      const w = await waiting;
      w.release();
      const m = await mine;
      expect((await m.query("SELECT 1 AS one")).rows[0].one).toBe(1);
      m.release();
    } finally {
      await pool.end();
    }
  });

  it("falls back to connect() for a pool without pg-pool's internals", async () => {
    const fake = { connect: () => Promise.resolve("client") } as never;
    const got = checkout(fake);
    expect(isPromise(got)).toBe(true);
    expect(await got).toBe("client");
  });
});
