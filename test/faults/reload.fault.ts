// Fault 5: under `skyflow dev`, the workflow file is rewritten 100 times (every tenth rewrite broken) while an
// application writes tasks. Every task must start one run, insert one sql row and save one uuid() record; each
// row must carry the version of the file its run started with; a broken file must not replace the last good
// one.
// Sizes: SKYFLOW_FAULTS_RELOADS (100), SKYFLOW_FAULTS_RELOAD_RUNS (1000).
import { writeFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import {
  APP,
  cleanups,
  createTaskTables,
  diagnose,
  launch,
  projectDir,
  random,
  report,
  settle,
  size,
  sleep,
  tallyTasks,
  taskWorkflow,
  taskWriter,
} from "./harness.js";

const RELOADS = size("SKYFLOW_FAULTS_RELOADS", 100);
const RUNS = size("SKYFLOW_FAULTS_RELOAD_RUNS", 1000);

const cleanup = cleanups();

it(`${RUNS} runs while the workflow file is rewritten ${RELOADS} times`, async () => {
  const started = Date.now();
  const rnd = random();
  const db: TestDatabase = await createTestDatabase("faults_reload");
  cleanup.push(() => db.drop());
  await createTaskTables(db.pool);
  const project = await projectDir("on-task", taskWorkflow({ version: 0 }));
  cleanup.push(project.remove);
  const dev = await launch(project.dir, { DATABASE_URL: db.url }, { command: "dev" });
  cleanup.push(() => dev.stop("SIGKILL"));

  // About 100 ms between rewrites, and the tasks spread over them.
  const writer = taskWriter(db.pool, {
    batch: 5,
    pauseMs: Math.max(5, Math.round((RELOADS * 100 * 5) / RUNS)),
  });
  const writing = writer.write(RUNS);
  let broken = 0;
  for (let v = 1; v <= RELOADS; v++) {
    if (v % 10 === 0) {
      // A typo: the file does not load, and the last good version keeps running.
      await writeFile(project.file, `${taskWorkflow({ version: v })}  - publsh: {channel: x}\n`);
      broken++;
    } else {
      await writeFile(project.file, taskWorkflow({ version: v }));
    }
    await sleep(rnd.between(40, 160));
  }
  await writing;
  const tally = await settle(() => tallyTasks(db.pool, RUNS, "on-task"), 180_000);
  await diagnose("reload", db.pool, tally, [dev]);

  // Each row carries the version its run started with (the text stored for the run's version).
  const { rows } = await db.pool.query<{ mismatched: number; versions: number; broken_runs: number }>(
    `SELECT count(*) FILTER (WHERE position(format('VALUES ($1, %s)', l.version) IN v.source) = 0)::int
              AS mismatched,
            count(DISTINCT l.version)::int AS versions,
            count(*) FILTER (WHERE v.source LIKE '%publsh%' OR v.source LIKE '%pubish%')::int AS broken_runs
     FROM ${APP}.task_log l
     JOIN skyflow.runs r ON r.workflow = 'on-task' AND r.event->'record'->>'_id' = l.task_id
     JOIN skyflow.workflow_versions v ON v.workflow = r.workflow AND v.version = r.version`,
  );
  const reloaded = dev.output().match(/workflow on-task reloaded/g)?.length ?? 0;
  report({
    scenario: "workflow file rewritten",
    runs: tally.runs,
    kills: 0,
    restarts: 0,
    injected: RELOADS,
    lost: tally.lost,
    duplicated: tally.duplicated,
    seconds: (Date.now() - started) / 1000,
    note: `${broken} broken rewrites, ${reloaded} reloads seen, ${rows[0]!.versions} versions ran, seed ${rnd.seed}`,
  });
  expect(rows[0]).toMatchObject({ mismatched: 0, broken_runs: 0 });
  // Runs started under several versions (how many depends on the machine's pace; rewrites closer than the
  // watcher's window are folded into one reload).
  expect(rows[0]!.versions).toBeGreaterThan(1);
  expect(reloaded).toBeGreaterThan(1);
  // A broken file at the end keeps the last good version that was loaded (a rewrite overwritten before the
  // watcher read it never loads): the latest version any run used, or a later good one.
  const mark = dev.output().length;
  // (Another typo than before: the same problems twice in a row are logged once.)
  await writeFile(project.file, `${taskWorkflow({ version: RELOADS + 1 })}  - pubish: {channel: x}\n`);
  broken++;
  await dev.waitFor("keeping the last good version of on-task", 30_000, mark);
  const seen = await db.pool.query<{ max: number }>(`SELECT max(version)::int AS max FROM ${APP}.task_log`);
  await writer.write(RUNS + 5);
  await settle(() => tallyTasks(db.pool, RUNS + 5, "on-task"), 60_000);
  const last = await db.pool.query<{ version: number }>(
    `SELECT DISTINCT version FROM ${APP}.task_log WHERE task_id = ANY($1::text[])`,
    [[0, 1, 2, 3, 4].map((i) => `task/t${RUNS + i}`)],
  );
  expect(last.rows).toHaveLength(1);
  const live = last.rows[0]!.version;
  expect(live % 10 !== 0 && live <= RELOADS && live >= seen.rows[0]!.max).toBe(true);
  expect(tally.detail).toMatchObject({ runs: RUNS, finished: RUNS });
  expect({ lost: tally.lost, duplicated: tally.duplicated }).toEqual({ lost: 0, duplicated: 0 });
});
