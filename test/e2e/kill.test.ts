// `skyflow start` SIGKILLed while an application keeps writing records: after a restart, every record has
// started its workflow exactly once, every run has finished, and the run's generated-id save made one record.
import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRecordTable } from "../engine/triggers/helpers.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type Child, eventually, freePort, startCli } from "./child.js";

const APP = "app_skyflow";
const TASKS = 600;
const workflow = `on:
  record: {type: task, events: [create]}
steps:
  - id: log
    sql:
      statement: INSERT INTO task_log (task_id) VALUES ($1)
      params: ["\${{ event.record._id }}"]
  - id: mark
    save:
      record:
        _id: "mark/\${{ uuid() }}"
        task: "\${{ event.record._id }}"
`;

let db: TestDatabase;
let dir: string;
const children: Child[] = [];

beforeAll(async () => {
  db = await createTestDatabase("e2e_kill");
  await createRecordTable(db.pool, APP, "task");
  await db.pool.query(`CREATE TABLE ${APP}.task_log (task_id text NOT NULL)`);
  dir = await mkdtemp(join(tmpdir(), "skyflow-kill-"));
  mkdirSync(join(dir, "workflows"));
  await writeFile(join(dir, "workflows", "on-task.yaml"), workflow);
});
afterAll(async () => {
  for (const c of children) await c.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

async function launch(): Promise<Child> {
  const child = startCli(["start", "--port", String(await freePort())], {
    cwd: dir,
    // A short lease, so that the runs the killed process held are taken up soon after the restart.
    env: { DATABASE_URL: db.url, SKYFLOW_LEASE_MS: "2000" },
  });
  children.push(child);
  await child.waitFor('"msg":"skyflow started"', 60_000);
  return child;
}

const count = async (sql: string) => Number((await db.pool.query(sql)).rows[0].n);

describe("skyflow start, killed mid-flight", () => {
  it("starts each record's run once and finishes them all after a restart; the save makes one record per run", async () => {
    const first = await launch();
    let written = 0;
    // The application writes records in small transactions: half of them while the first process runs (and
    // is killed), the other half while no process runs.
    const write = async (upTo: number) => {
      while (written < upTo) {
        const ids = Array.from({ length: 10 }, (_, i) => `t${written + i}`);
        await db.pool.query(
          `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _created_by, _updated_at, _updated_by)
           SELECT id, '', 'u1', now(), 'u1', now(), 'u1' FROM unnest($1::text[]) id`,
          [ids],
        );
        written += ids.length;
        await new Promise((r) => setTimeout(r, 15));
      }
    };
    const firstHalf = write(TASKS / 2);
    await eventually(async () =>
      (await count("SELECT count(*) AS n FROM skyflow.runs WHERE status = 'succeeded'")) >= 100
        ? true
        : undefined,
    );
    first.proc.kill("SIGKILL");
    await first.exited;
    await firstHalf;
    await write(TASKS);
    await launch();
    await eventually(
      async () =>
        (await count("SELECT count(*) AS n FROM skyflow.runs WHERE status = 'succeeded'")) === TASKS
          ? true
          : undefined,
      60_000,
    );
    const runs = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT event->'record'->>'_id')::int AS tasks,
              count(*) FILTER (WHERE status <> 'succeeded')::int AS unfinished
       FROM skyflow.runs WHERE workflow = 'on-task'`,
    );
    expect(runs.rows[0]).toEqual({ n: TASKS, tasks: TASKS, unfinished: 0 });
    // The sql step is at least once: a try the kill cut off may have run twice.
    expect(await count(`SELECT count(DISTINCT task_id) AS n FROM ${APP}.task_log`)).toBe(TASKS);
    // The save's record id comes from uuid(), the same on every try: one record per run, however often tried.
    const marks = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT task)::int AS tasks FROM ${APP}.mark`,
    );
    expect(marks.rows[0]).toEqual({ n: TASKS, tasks: TASKS });
  }, 120_000);
});
