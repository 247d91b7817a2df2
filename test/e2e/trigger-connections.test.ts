// The daemon's triggers claim on connections of their own: a change committed while the steps of the runs in
// flight hold every connection of the engine's pool (and more steps wait for one) is claimed, and its run
// created, at once, not after those steps have given their connections back.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { appSchemaName, loadConfig } from "../../src/config.js";
import { type Daemon, openDaemon } from "../../src/daemon.js";
import { silentLogger } from "../../src/log.js";
import { createRecordTable, insertRecord, waitFor } from "../engine/triggers/helpers.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** More runs than the engine's pool has connections (20, daemon.ts), each holding one for a while. */
const HOLDERS = 24;

let db: TestDatabase;
let daemon: Daemon | undefined;
let dir: string;
let schema: string;

beforeAll(async () => {
  db = await createTestDatabase("e2e_trigger_connections");
  dir = await mkdtemp(join(tmpdir(), "skyflow-trigger-connections-"));
  await writeFile(
    join(dir, "hold.yaml"),
    `on: { record: { type: task, events: [create] } }
steps:
  - id: hold
    sql: { statement: "SELECT pg_sleep(3)" }
`,
  );
  await writeFile(
    join(dir, "ping.yaml"),
    `on: { record: { type: ping, events: [create] } }
steps:
  - id: one
    sql: { statement: "SELECT 1 AS n" }
`,
  );
  const config = loadConfig({ DATABASE_URL: db.url, PORT: "0" }, { dir });
  schema = appSchemaName(config.appName);
  for (const t of ["task", "ping"]) await createRecordTable(db.pool, schema, t);
  daemon = await openDaemon({ mode: "start", config, log: silentLogger(), exposed: {}, httpPort: 0 });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("claims a change while the steps in flight hold every pooled connection", async () => {
  const c = await db.pool.connect();
  try {
    await c.query("BEGIN");
    for (let i = 0; i < HOLDERS; i++) await insertRecord(c, schema, "task", `t${i}`);
    await c.query("COMMIT");
  } finally {
    c.release();
  }
  // Every connection of the engine's pool is in a step's pg_sleep; the other steps wait for one.
  await waitFor(
    async () =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(3)%' AND state = 'active'`,
        )
      ).rows[0]!.n,
    (n) => n >= 19,
    20_000,
  );
  await insertRecord(db.pool, schema, "ping", "p1");
  const runs = await waitFor(
    async () =>
      (
        await db.pool.query<{ workflow: string; status: string; created_at: Date }>(
          "SELECT workflow, status, created_at FROM skyflow.runs",
        )
      ).rows,
    (rows) => rows.length === HOLDERS + 1 && rows.every((r) => r.status === "succeeded"),
    60_000,
  );
  const ends = await db.pool.query<{ first: Date }>(
    "SELECT min(finished_at) AS first FROM skyflow.step_tries WHERE step_key = 'hold'",
  );
  const ping = runs.find((r) => r.workflow === "ping")!;
  // Its run was created (the claim's transaction began) before any of the holding steps had ended.
  expect(ping.created_at.getTime()).toBeLessThan(ends.rows[0]!.first.getTime());
}, 90_000);
