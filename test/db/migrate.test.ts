import { describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/db/migrate.js";
import { createTestDatabase, useTestDatabase } from "../helpers/db.js";

const db = useTestDatabase("migrate");

describe("migrate", () => {
  it("the template already holds every migration, so migrating again applies nothing", async () => {
    expect(await migrate(db.pool)).toEqual([]);
    const { rows } = await db.pool.query("SELECT id FROM skyflow.migrations ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual((await loadMigrations()).map((m) => m.id));
  });

  it("two concurrent migrations apply a new migration exactly once", async () => {
    const extra = [
      ...(await loadMigrations()),
      { id: 999, name: "probe", sql: "CREATE TABLE skyflow.probe (n int)" },
    ];
    const results = await Promise.all([migrate(db.pool, extra), migrate(db.pool, extra)]);
    expect(results.flat()).toEqual(["999_probe"]);
  });
});

describe("127: the wake flag moves from a table to a sequence", () => {
  it("keeps the flag as the table had it, and set_record_wake says when it changed it", async () => {
    const fresh = await createTestDatabase("migrate_wake");
    try {
      await fresh.pool.query("DROP SCHEMA skyflow CASCADE");
      const all = await loadMigrations();
      await migrate(
        fresh.pool,
        all.filter((m) => m.id < 127),
      );
      await fresh.pool.query("UPDATE skyflow.record_wake SET armed = false");
      expect(await migrate(fresh.pool, all)).toEqual(["127_record_wake_flag"]);
      const armed = async () =>
        (await fresh.pool.query("SELECT armed FROM skyflow.record_wake WHERE id = 1")).rows[0].armed;
      expect(await armed()).toBe(false);
      const set = async (a: boolean) =>
        (await fresh.pool.query("SELECT skyflow.set_record_wake($1) AS c", [a])).rows[0].c;
      expect(await set(false)).toBe(false);
      expect(await set(true)).toBe(true);
      expect(await armed()).toBe(true);
      expect(await set(true)).toBe(false);
      // Not transactional: a change made in a transaction that rolls back stays made.
      const c = await fresh.pool.connect();
      try {
        await c.query("BEGIN");
        await c.query("SELECT skyflow.set_record_wake(false)");
        await c.query("ROLLBACK");
      } finally {
        c.release();
      }
      expect(await armed()).toBe(false);
    } finally {
      await fresh.drop();
    }
  });
});
