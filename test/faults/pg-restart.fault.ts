// Fault 2: a private Postgres restarted several times (a clean fast shutdown, then crashes with `immediate`)
// while an application writes tasks and two `skyflow start` processes run them. The application retries a
// batch whose outcome the restart hid (its inserts are idempotent). Every task must start one run, insert one
// sql row and save one uuid() record.
// Sizes: SKYFLOW_FAULTS_PG_RUNS (1000), SKYFLOW_FAULTS_PG_RESTARTS (4).
import { expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { createPool } from "../../src/db/pool.js";
import type { Child } from "../e2e/child.js";
import {
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
import { startPrivatePostgres } from "./private-pg.js";

const RUNS = size("SKYFLOW_FAULTS_PG_RUNS", 1000);
const RESTARTS = size("SKYFLOW_FAULTS_PG_RESTARTS", 4);

const cleanup = cleanups();

it(`${RUNS} runs while a private Postgres restarts ${RESTARTS} times`, async () => {
  const started = Date.now();
  const rnd = random();
  const server = await startPrivatePostgres();
  // SKYFLOW_FAULTS_KEEP=1 leaves the private Postgres running afterwards, to look into a failure.
  if (process.env.SKYFLOW_FAULTS_KEEP) console.error(`private Postgres kept: ${server.url}`);
  else cleanup.push(server.close);
  const pool = createPool(server.url, { max: 4 });
  cleanup.push(() => pool.end());
  await migrate(pool);
  await createTaskTables(pool);
  const project = await projectDir("on-task", taskWorkflow());
  cleanup.push(project.remove);
  const env = { DATABASE_URL: server.url, SKYFLOW_LEASE_MS: "2000" };
  const engines: Child[] = await Promise.all([launch(project.dir, env), launch(project.dir, env)]);
  cleanup.push(() => Promise.all(engines.map((e) => e.stop("SIGKILL"))));

  // Writes spread over the restarts (one every 1 to 2.5 s, down for 0.3 to 1.5 s): about 3 s of tasks each.
  const writer = taskWriter(pool, {
    batch: 5,
    pauseMs: Math.max(5, Math.round((RESTARTS * 3_000 * 5) / RUNS)),
  });
  const writing = writer.write(RUNS);
  let restarts = 0;
  for (; restarts < RESTARTS; restarts++) {
    await sleep(rnd.between(1000, 2500));
    await server.restart(restarts === 0 ? "fast" : "immediate", rnd.between(300, 1500));
  }
  await writing;
  const tally = await settle(() => tallyTasks(pool, RUNS, "on-task"), 180_000);
  // The daemons rode the restarts out: still running.
  const alive = engines.filter((e) => e.proc.exitCode === null).length;
  report({
    scenario: "Postgres restarted",
    runs: tally.runs,
    kills: 0,
    restarts,
    injected: 0,
    lost: tally.lost,
    duplicated: tally.duplicated,
    seconds: (Date.now() - started) / 1000,
    note: `${writer.failures()} app writes retried, seed ${rnd.seed}`,
  });
  await diagnose("pg-restart", pool, tally, engines);
  expect(alive).toBe(2);
  expect(tally.detail).toMatchObject({ runs: RUNS, finished: RUNS });
  expect({ lost: tally.lost, duplicated: tally.duplicated }).toEqual({ lost: 0, duplicated: 0 });
});
