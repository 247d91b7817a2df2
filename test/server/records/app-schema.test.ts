import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureAppSchema } from "../../../src/server/app-schema.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("app_schema");
});
afterAll(async () => {
  await db.drop();
});

async function tablesOf(schema: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
    [schema],
  );
  return rows.map((r) => r.table_name);
}

describe("ensureAppSchema", () => {
  it("creates the schema, the system tables, the user table and the skyflow tables", async () => {
    await ensureAppSchema(db.pool, "app_one");
    expect(await tablesOf("app_one")).toEqual([
      "_auth",
      "_auth_role",
      "_device",
      "_record_creation",
      "_record_default_access",
      "_record_field_access",
      "_role",
      "_skyflow_push",
      "_skyflow_token",
      "_version",
      "user",
    ]);
    const roles = await db.pool.query("SELECT id, is_admin FROM app_one._role");
    expect(roles.rows).toEqual([{ id: "Admin", is_admin: true }]);
    const version = await db.pool.query("SELECT version_num FROM app_one._version");
    expect(version.rows).toEqual([{ version_num: "7469be11899e" }]);
  });

  it("is idempotent and safe when two calls race", async () => {
    await Promise.all([ensureAppSchema(db.pool, "app_two"), ensureAppSchema(db.pool, "app_two")]);
    await ensureAppSchema(db.pool, "app_two");
    const version = await db.pool.query("SELECT count(*)::int AS n FROM app_two._version");
    expect(version.rows[0].n).toBe(1);
    const roles = await db.pool.query("SELECT count(*)::int AS n FROM app_two._role");
    expect(roles.rows[0].n).toBe(1);
  });

  it("user table has the system columns and unique username and email (nulls allowed twice)", async () => {
    await ensureAppSchema(db.pool, "app_three");
    const ins = `INSERT INTO app_three."user" (_id, _database_id, _owner_id, _created_at, _updated_at, username)
                 VALUES ($1, '', $1, now(), now(), $2)`;
    await db.pool.query(ins, ["u1", null]);
    await db.pool.query(ins, ["u2", null]);
    await db.pool.query(ins, ["u3", "alice"]);
    await expect(db.pool.query(ins, ["u4", "alice"])).rejects.toMatchObject({ code: "23505" });
    await expect(db.pool.query(ins, ["u1", "bob"])).rejects.toMatchObject({ code: "23505" });
  });

  it("rejects a schema name that is not a plain lowercase identifier", async () => {
    await expect(ensureAppSchema(db.pool, 'app_x"; drop')).rejects.toThrow(/invalid app schema/);
  });
});
