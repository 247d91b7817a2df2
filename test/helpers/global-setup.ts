// Once per test run: build the dashboard's bundle, find a Postgres (DATABASE_URL, else the embedded one under
// .skyflow-test/), migrate a template database, and hand both names to the test files, which clone the
// template per file.
import { createHash } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { buildDashboard } from "../../scripts/build-dashboard.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../src/db/embedded.js";
import { loadMigrations, migrate } from "../../src/db/migrate.js";
import { createPool } from "../../src/db/pool.js";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    templateDatabase: string;
  }
}

let embedded: EmbeddedPostgres | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The daemon serves the dashboard's bundle from dist/dashboard: built from the current client sources.
  await buildDashboard();
  let url = process.env.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dir: ".skyflow-test" });
    url = embedded.url;
  }
  const migrations = await loadMigrations();
  const hash = createHash("sha256").update(JSON.stringify(migrations)).digest("hex").slice(0, 10);
  const template = `skyflow_tpl_${hash}`;
  await ensureTemplate(url, template);
  project.provide("databaseUrl", url);
  project.provide("templateDatabase", template);
  return async () => {
    await embedded?.stop();
  };
}

async function ensureTemplate(url: string, template: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query("SELECT pg_advisory_lock(7341220012)");
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [template]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${template}`);
    const pool = createPool(withDatabase(url, template), { max: 1 });
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end();
      await admin.query(`DROP DATABASE ${template}`);
      throw err;
    }
    await pool.end();
  } finally {
    await admin.query("SELECT pg_advisory_unlock(7341220012)").catch(() => {});
    await admin.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
