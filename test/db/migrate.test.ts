import { describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/db/migrate.js";
import { useTestDatabase } from "../helpers/db.js";

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
