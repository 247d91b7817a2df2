// Fault 3: `skyflow start` calls the Skygear development server through a proxy that answers a fifth of the
// calls 503 (before or after the server did the work) or never answers them (the step's timeout ends the
// try). Every task must start one run; its uuid() save, retried, must make one record; its sql step one row.
// Sizes: SKYFLOW_FAULTS_HTTP_RUNS (600).
import { expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY } from "../helpers/server.js";
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
  tallyTasks,
  taskWorkflow,
  taskWriter,
} from "./harness.js";
import { faultyProxy } from "./proxy.js";

const RUNS = size("SKYFLOW_FAULTS_HTTP_RUNS", 600);

const cleanup = cleanups();

it(`${RUNS} runs while the Skygear server answers 503 or times out for a fifth of the calls`, async () => {
  const started = Date.now();
  const rnd = random();
  const db: TestDatabase = await createTestDatabase("faults_skygear");
  cleanup.push(() => db.drop());
  await createTaskTables(db.pool);
  const server = await startTestServer(db.pool, { appName: "skyflow" });
  cleanup.push(() => server.close());
  const proxy = await faultyProxy(server.url, rnd.seed + 1);
  cleanup.push(() => proxy.close());
  // Retried often enough that a fifth of failures cannot exhaust a step (0.2^12); a try that gets no answer
  // ends at the step's timeout.
  const project = await projectDir(
    "on-task",
    taskWorkflow({ retry: "{attempts: 12, backoff: fixed, delay: 100ms}", timeout: "2s" }),
  );
  cleanup.push(project.remove);
  const engine = await launch(project.dir, {
    DATABASE_URL: db.url,
    SKYGEAR_ENDPOINT: proxy.url,
    SKYGEAR_APP_NAME: "skyflow",
    SKYGEAR_API_KEY: TEST_API_KEY,
    SKYGEAR_MASTER_KEY: TEST_MASTER_KEY,
  });
  cleanup.push(() => engine.stop("SIGKILL"));

  proxy.failRate = 0.2;
  await taskWriter(db.pool, { pauseMs: 20 }).write(RUNS);
  const tally = await settle(() => tallyTasks(db.pool, RUNS, "on-task"), 180_000);
  proxy.failRate = 0;
  await diagnose("skygear", db.pool, tally, [engine]);
  const injected = Object.values(proxy.stats.faults).reduce((a, b) => a + b, 0);
  report({
    scenario: "Skygear 503 / no answer",
    runs: tally.runs,
    kills: 0,
    restarts: 0,
    injected,
    lost: tally.lost,
    duplicated: tally.duplicated,
    seconds: (Date.now() - started) / 1000,
    note: `${proxy.stats.calls} calls: ${JSON.stringify(proxy.stats.faults)}, seed ${rnd.seed}`,
  });
  // About a fifth of the calls failed, each way of failing among them.
  expect(injected).toBeGreaterThan(proxy.stats.calls * 0.1);
  for (const n of Object.values(proxy.stats.faults)) expect(n).toBeGreaterThan(0);
  expect(tally.detail).toMatchObject({ runs: RUNS, finished: RUNS });
  expect({ lost: tally.lost, duplicated: tally.duplicated }).toEqual({ lost: 0, duplicated: 0 });
});
