// `skyflow start` SIGKILLed while an application keeps writing records. Whether the same daemon restarts or
// a second one already running takes over, every record starts its workflow exactly once, every run
// finishes, its sql step's insert is made once, and each run's generated-id save makes one record.
import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createRecordTable } from "../engine/triggers/helpers.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type Child, eventually, freePort, START_KEYS, startCli } from "./child.js";

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
      as: master
      record:
        _id: "mark/\${{ uuid() }}"
        task: "\${{ event.record._id }}"
`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A database with the app's `task` table and a directory with the workflow; `launch` starts a daemon. */
async function scenario(label: string) {
  const db: TestDatabase = await createTestDatabase(label);
  cleanup.push(() => db.drop());
  await createRecordTable(db.pool, APP, "task");
  await db.pool.query(`CREATE TABLE ${APP}.task_log (task_id text NOT NULL)`);
  const dir = await mkdtemp(join(tmpdir(), "skyflow-kill-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "workflows"));
  await writeFile(join(dir, "workflows", "on-task.yaml"), workflow);
  const count = async (sql: string) => Number((await db.pool.query(sql)).rows[0].n);
  let written = 0;
  return {
    db,
    count,
    async launch(): Promise<Child> {
      const child = startCli(["start", "--port", String(await freePort())], {
        cwd: dir,
        // A short lease, so that the runs of a killed process are taken over soon.
        env: { ...START_KEYS, DATABASE_URL: db.url, SKYFLOW_LEASE_MS: "2000" },
      });
      cleanup.push(async () => void (await child.stop("SIGKILL")));
      await child.waitFor('"msg":"skyflow started"', 60_000);
      return child;
    },
    /** The application writes records in small transactions up to `upTo` in all. */
    async write(upTo: number): Promise<void> {
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
    },
    succeeded: () => count("SELECT count(*) AS n FROM skyflow.runs WHERE status = 'succeeded'"),
    async expectEachOnce(): Promise<void> {
      await eventually(async () => ((await this.succeeded()) === TASKS ? true : undefined), 60_000);
      const runs = await db.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT event->'record'->>'_id')::int AS tasks,
                count(*) FILTER (WHERE status <> 'succeeded')::int AS unfinished
         FROM skyflow.runs WHERE workflow = 'on-task'`,
      );
      expect(runs.rows[0]).toEqual({ n: TASKS, tasks: TASKS, unfinished: 0 });
      // The sql step commits with the record of its try: a try the kill cut off either committed, and is
      // not run again, or rolled back. One row per task.
      expect(await count(`SELECT count(*) AS n FROM ${APP}.task_log`)).toBe(TASKS);
      expect(await count(`SELECT count(DISTINCT task_id) AS n FROM ${APP}.task_log`)).toBe(TASKS);
      // The save's record id comes from uuid(), the same on every try: one record per run.
      const marks = await db.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT task)::int AS tasks FROM ${APP}.mark`,
      );
      expect(marks.rows[0]).toEqual({ n: TASKS, tasks: TASKS });
    },
  };
}

describe("skyflow start, killed mid-flight", () => {
  it("restarted: starts each record's run once and finishes them all; the save makes one record per run", async () => {
    const s = await scenario("e2e_kill_restart");
    const first = await s.launch();
    // Half the records while the first process runs (and is killed), the other half while none runs.
    const firstHalf = s.write(TASKS / 2);
    await eventually(async () => ((await s.succeeded()) >= 100 ? true : undefined));
    first.proc.kill("SIGKILL");
    await first.exited;
    await firstHalf;
    await s.write(TASKS);
    await s.launch();
    await s.expectEachOnce();
  }, 120_000);

  it("with a second daemon on the same database: it takes over the killed one's runs and changes", async () => {
    const s = await scenario("e2e_kill_takeover");
    const a = await s.launch();
    await s.launch();
    const writing = s.write(TASKS);
    await eventually(async () => ((await s.succeeded()) >= 100 ? true : undefined));
    a.proc.kill("SIGKILL");
    await a.exited;
    await writing;
    await s.expectEachOnce();
  }, 120_000);
});
