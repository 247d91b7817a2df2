// Per test file: a fresh database cloned from the migrated template, and its pool: useTestDatabase at the
// top of the file, or createTestDatabase in beforeAll and drop in afterAll.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, inject } from "vitest";
import { createPool } from "../../src/db/pool.js";
import { withDatabase } from "./global-setup.js";

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** `label` names the database after the test file, so a leftover one tells where it came from. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const base = inject("databaseUrl");
  const template = inject("templateDatabase");
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .slice(0, 30);
  const name = `t_${safe}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (err) {
        // 55006: the template is briefly in use by another clone; try again.
        if ((err as { code?: string }).code !== "55006" || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(base, name);
  const pool = createPool(url, { max: 10 });
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await c.end();
    },
  };
}

/**
 * The test file's database: created before its tests (then `setup` runs on it: tables, schemas), dropped
 * after them. The object is filled in by beforeAll, so read it in tests and hooks, not at the top level.
 */
export function useTestDatabase(label: string, setup?: (db: TestDatabase) => Promise<void>): TestDatabase {
  const db = {} as TestDatabase;
  beforeAll(async () => {
    Object.assign(db, await createTestDatabase(label));
    await setup?.(db);
  });
  afterAll(async () => {
    // Absent when the database could not be created: that failure is beforeAll's to report.
    await db.drop?.();
  });
  return db;
}

/**
 * Runs `fn` while a plpgsql row trigger `name` is on `table` (`timing`: e.g. "BEFORE UPDATE"), its body
 * `body` followed by RETURN NEW: for tests that make Postgres refuse a given write. Removed afterwards.
 */
export async function withRowTrigger<T>(
  pool: pg.Pool,
  t: { name: string; table: string; timing: string; body: string },
  fn: () => Promise<T>,
): Promise<T> {
  await pool.query(`CREATE FUNCTION public.${t.name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      ${t.body}
      RETURN NEW;
    END $$`);
  await pool.query(
    `CREATE TRIGGER ${t.name} ${t.timing} ON ${t.table} FOR EACH ROW EXECUTE FUNCTION public.${t.name}()`,
  );
  try {
    return await fn();
  } finally {
    await pool.query(`DROP TRIGGER ${t.name} ON ${t.table}; DROP FUNCTION public.${t.name}()`);
  }
}

let failing = 0;

/**
 * Runs `fn` while the first `n` inserts into `table` fail, as statements do while a database restarts, and
 * returns its result with how many inserts were tried. A sequence counts them: unlike a row, its value
 * survives the failed statement's rollback.
 */
export async function withFailingInserts<T>(
  pool: pg.Pool,
  table: string,
  n: number,
  fn: () => Promise<T>,
): Promise<{ result: T; tries: number }> {
  const name = `fail_inserts_${++failing}_${randomBytes(3).toString("hex")}`;
  await pool.query(`CREATE SEQUENCE public.${name}`);
  try {
    const body = `IF nextval('public.${name}') <= ${n} THEN RAISE EXCEPTION 'injected insert failure'; END IF;`;
    const result = await withRowTrigger(pool, { name, table, timing: "BEFORE INSERT", body }, fn);
    const { rows } = await pool.query<{ n: string; called: boolean }>(
      `SELECT last_value AS n, is_called AS called FROM public.${name}`,
    );
    return { result, tries: rows[0]!.called ? Number(rows[0]!.n) : 0 };
  } finally {
    await pool.query(`DROP SEQUENCE public.${name}`);
  }
}

/** How many values sequence `name` has handed out (its last value once called, else 0). */
export async function sequenceUsed(pool: pg.Pool, name: string): Promise<number> {
  const { rows } = await pool.query(
    `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM ${name}`,
  );
  return Number(rows[0]!.n);
}

/**
 * How many backends of the pool's database run a statement whose text is LIKE `query` and that match `where`
 * (SQL over pg_stat_activity's columns: "state = 'active'", "wait_event = 'PgSleep'").
 */
export async function backendsRunning(pool: pg.Pool, query: string, where: string): Promise<number> {
  const r = await pool.query(
    `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE $1 AND ${where}`,
    [query],
  );
  return r.rowCount ?? 0;
}

/**
 * Ends the connections to the pool's database, as a database restart would: those of the given application
 * names, or all but the one that asks. Returns how many.
 */
export async function terminateBackends(pool: pg.Pool, applicationNames?: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()
         AND ($1::text[] IS NULL OR application_name = ANY($1::text[]))) k`,
    [applicationNames ?? null],
  );
  return rows[0]!.n;
}

/** terminateBackends every `ms` until stop(), which returns how many connections were ended in all. */
export function cutConnectionsEvery(
  pool: pg.Pool,
  applicationNames: string[],
  ms: number,
): { stop(): Promise<number> } {
  let total = 0;
  let last: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    last = terminateBackends(pool, applicationNames).then((n) => {
      total += n;
    });
  }, ms);
  return {
    async stop() {
      clearInterval(timer);
      await last;
      return total;
    },
  };
}
