// Applies the numbered migrations in ./migrations (files NNN_name.ts exporting `sql`) to schema `skyflow`.
// One transaction under an advisory lock, so two processes starting at once apply each migration once.
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type pg from "pg";

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{3})_([a-z0-9_]+)\.(ts|js)$/;
const LOCK_KEY = 7_341_220_011; // arbitrary, fixed: "skyflow migrations"

export async function loadMigrations(): Promise<Migration[]> {
  const dir = new URL("./migrations/", import.meta.url);
  const files = (await readdir(fileURLToPath(dir))).filter((f) => MIGRATION_FILE.test(f)).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = MIGRATION_FILE.exec(file)!;
    const mod = (await import(new URL(file, dir).href)) as { sql?: unknown };
    if (typeof mod.sql !== "string") throw new Error(`migration ${file} must export a string named sql`);
    out.push({ id: Number(m[1]), name: m[2]!, sql: mod.sql });
  }
  const ids = new Set<number>();
  for (const m of out) {
    if (ids.has(m.id)) throw new Error(`two migrations share number ${m.id}`);
    ids.add(m.id);
  }
  return out;
}

/** Applies every migration not yet applied; returns the names applied now. */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<string[]> {
  const list = migrations ?? (await loadMigrations());
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    await client.query("CREATE SCHEMA IF NOT EXISTS skyflow");
    await client.query(
      `CREATE TABLE IF NOT EXISTS skyflow.migrations (
         id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ id: number }>("SELECT id FROM skyflow.migrations")).rows.map((r) => r.id),
    );
    const applied: string[] = [];
    for (const m of list) {
      if (done.has(m.id)) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO skyflow.migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      applied.push(`${String(m.id).padStart(3, "0")}_${m.name}`);
    }
    await client.query("COMMIT");
    return applied;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
