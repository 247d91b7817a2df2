// Databases for `skyflow test`: one Postgres (DATABASE_URL, else the embedded one `skyflow dev` uses), a
// template database migrated once (skyflow's schema and the app's) and kept for the next invocation, and a
// database cloned from it for each test, dropped when the test ends.
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { appSchemaName, type Config } from "../config.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../db/embedded.js";
import { loadMigrations, migrate } from "../db/migrate.js";
import { createPool, ident } from "../db/pool.js";
import { SkyflowError } from "../errors.js";
import { silentLogger } from "../log.js";
import { SKYGEAR_SCHEMA_VERSION } from "../server/app-schema.js";
import { createSkygearHandler } from "../server/index.js";

export interface TestDatabases {
  /**
   * A fresh database for one test: its URL, and drop(), which removes it in the background (a drop takes
   * about a second that the next test need not wait for); close() waits for the drops.
   */
  create(label: string): Promise<{ url: string; name: string; drop(): void }>;
  /** Where the databases live, without a password. */
  where: string;
  close(): Promise<void>;
}

const LOCK = 7341220013;

export async function openTestDatabases(config: Pick<Config, "databaseUrl" | "stateDir" | "appName">) {
  let embedded: EmbeddedPostgres | undefined;
  let base = config.databaseUrl;
  if (!base) {
    embedded = await startEmbeddedPostgres({ dir: config.stateDir });
    base = embedded.url;
  }
  try {
    const template = await ensureTemplate(base, appSchemaName(config.appName));
    const drops = new Set<Promise<void>>();
    const dbs: TestDatabases = {
      where: config.databaseUrl ? describe(base) : `the embedded Postgres under ${config.stateDir}`,
      async create(label) {
        // Another checkout's `skyflow test` on the same server (other migrations) may drop this template as
        // old between two clones: make it again and clone once more.
        const db = await cloneTemplate(base!, template, label).catch(async (err: { code?: string }) => {
          if (err.code !== "3D000") throw err;
          return cloneTemplate(base!, await ensureTemplate(base!, appSchemaName(config.appName)), label);
        });
        const drop = () => {
          const p = db.drop().catch(() => {});
          drops.add(p);
          void p.finally(() => drops.delete(p));
        };
        return { url: db.url, name: db.name, drop };
      },
      async close() {
        await Promise.all(drops);
        await embedded?.stop();
      },
    };
    return dbs;
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}

function describe(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** The template for this version of the migrations and app schema: made once, reused while they stay. */
async function ensureTemplate(base: string, appSchema: string): Promise<string> {
  const migrations = await loadMigrations();
  const hash = createHash("sha256")
    .update(JSON.stringify([migrations, SKYGEAR_SCHEMA_VERSION, appSchema]))
    .digest("hex")
    .slice(0, 10);
  const template = `skyflow_test_tpl_${hash}`;
  await admin(base, async (c) => {
    await c.query("SELECT pg_advisory_lock($1)", [LOCK]);
    try {
      const exists = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [template]);
      if (exists.rowCount) return;
      await c.query(`CREATE DATABASE ${ident(template)}`).catch((err: Error) => {
        throw new SkyflowError(
          "DB_ERROR",
          `skyflow test creates a database per test and could not create one (${err.message}); give DATABASE_URL a role with CREATEDB`,
          { cause: err },
        );
      });
      try {
        await prepare(withDatabase(base, template), appSchema);
      } catch (err) {
        await c.query(`DROP DATABASE IF EXISTS ${ident(template)} WITH (FORCE)`);
        throw err;
      }
    } finally {
      await c.query("SELECT pg_advisory_unlock($1)", [LOCK]).catch(() => {});
    }
  });
  return template;
}

async function prepare(url: string, appSchema: string): Promise<void> {
  const pool = createPool(url, { max: 2 });
  try {
    await migrate(pool);
    const handler = createSkygearHandler({
      pool,
      log: silentLogger(),
      config: { appName: "test", schema: appSchema, apiKey: "x", masterKey: "y" },
    });
    await handler.ready();
    await handler.close();
  } finally {
    await pool.end();
  }
}

async function cloneTemplate(base: string, template: string, label: string) {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .slice(0, 24);
  const name = `skyflow_test_${safe}_${randomBytes(4).toString("hex")}`;
  await admin(base, async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(template)}`);
        return;
      } catch (err) {
        // 55006: another clone is copying the template right now.
        if ((err as { code?: string }).code !== "55006" || attempt > 100) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  return {
    url: withDatabase(base, name),
    name,
    drop: () =>
      admin(base, async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`))),
  };
}
