import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../../src/db/pool.js";
import { ensureAppSchema } from "../../../src/server/app-schema.js";
import { SkygearServerError } from "../../../src/server/errors.js";
import { ensureColumns, tableColumns } from "../../../src/server/records/table.js";
import type { ColumnSpec } from "../../../src/server/records/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { SCHEMA } from "./helpers.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("rec_table");
  await ensureAppSchema(db.pool, SCHEMA);
});
afterAll(async () => {
  await db.drop();
});

describe("record tables", () => {
  it("creates the table with the system columns, primary key and unique _id", async () => {
    const cols = await ensureColumns(db.pool, SCHEMA, "thing", new Map([["label", { type: "string" }]]));
    expect([...cols.keys()].sort()).toEqual(
      [
        "_access",
        "_created_at",
        "_created_by",
        "_database_id",
        "_id",
        "_owner_id",
        "_updated_at",
        "_updated_by",
        "label",
      ].sort(),
    );
    const cons = await db.pool.query(
      `SELECT contype, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = to_regclass('${SCHEMA}.thing') AND contype IN ('p', 'u') ORDER BY contype`,
    );
    expect(cons.rows).toEqual([
      { contype: "p", def: "PRIMARY KEY (_id, _database_id, _owner_id)" },
      { contype: "u", def: "UNIQUE (_id)" },
    ]);
  });

  it("two pools adding the same columns at once both succeed and agree", async () => {
    const other = createPool(db.url, { max: 2 });
    try {
      const wanted = new Map([
        ["a", { type: "number" as const }],
        ["b", { type: "date" as const }],
      ]);
      const results = await Promise.all([
        ensureColumns(db.pool, SCHEMA, "race", wanted),
        ensureColumns(other, SCHEMA, "race", wanted),
        ensureColumns(db.pool, SCHEMA, "race", new Map([["a", { type: "number" as const }]])),
      ]);
      for (const r of results) expect(r.get("a")).toEqual({ type: "number" });
      expect(results[0]!.get("b")).toEqual({ type: "date" });
    } finally {
      await other.end();
    }
  });

  it("a conflicting type is 114, also when the column was added by another process after caching", async () => {
    await ensureColumns(db.pool, SCHEMA, "late", new Map());
    await db.pool.query(`ALTER TABLE ${SCHEMA}.late ADD COLUMN n boolean`);
    const err = await ensureColumns(db.pool, SCHEMA, "late", new Map([["n", { type: "number" }]])).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(SkygearServerError);
    expect(err.code).toBe(114);
    const cols = await tableColumns(db.pool, SCHEMA, "late");
    expect(cols?.get("n")).toEqual({ type: "boolean" });
  });

  it("reads ref, seq, integer and unknown column types back from the catalog", async () => {
    const wanted = new Map<string, ColumnSpec>([
      ["owner", { type: "ref", refType: "person" }],
      ["no", { type: "seq" }],
    ]);
    await ensureColumns(db.pool, SCHEMA, "typed", wanted);
    await db.pool.query(
      `ALTER TABLE ${SCHEMA}.typed ADD COLUMN big bigint, ADD COLUMN spot point, ADD COLUMN box box`,
    );
    const cols = await ensureColumns(db.pool, SCHEMA, "typed", new Map([["big", { type: "number" }]]));
    expect(cols.get("owner")).toEqual({ type: "ref", refType: "person" });
    expect(cols.get("no")).toEqual({ type: "seq" });
    expect(cols.get("big")).toEqual({ type: "integer" });
    expect(cols.get("spot")).toEqual({ type: "geo" });
    expect(cols.get("box")).toEqual({ type: "unknown", underlying: "box" });
    expect(await tableColumns(db.pool, SCHEMA, "person")).not.toBeNull();
  });

  it("an unknown table has no columns", async () => {
    expect(await tableColumns(db.pool, SCHEMA, "never")).toBeNull();
  });
});
