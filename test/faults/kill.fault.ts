// Fault 1: two `skyflow start` processes share one database while an application writes tasks; over several
// rounds one of them (in the last round both) is SIGKILLed at a random moment and started again. Every task
// must start one run, its sql step must insert one row, and its uuid() save must make one record.
// Sizes: SKYFLOW_FAULTS_KILL_RUNS (2000), SKYFLOW_FAULTS_KILL_ROUNDS (4); SKYFLOW_FAULTS_SEED replays a run.
import { expect, it } from "vitest";
import type { Child } from "../e2e/child.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
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

const RUNS = size("SKYFLOW_FAULTS_KILL_RUNS", 2000);
const ROUNDS = size("SKYFLOW_FAULTS_KILL_ROUNDS", 4);

const cleanup = cleanups();

it(`${RUNS} runs, two engines, one SIGKILLed at a random moment in each of ${ROUNDS} rounds`, async () => {
  const started = Date.now();
  const rnd = random();
  const db: TestDatabase = await createTestDatabase("faults_kill");
  cleanup.push(() => db.drop());
  await createTaskTables(db.pool);
  const project = await projectDir("on-task", taskWorkflow());
  cleanup.push(project.remove);
  // A short lease, so that a killed engine's runs are taken over within seconds.
  const env = { DATABASE_URL: db.url, SKYFLOW_LEASE_MS: "2000" };
  const engines: Child[] = await Promise.all([launch(project.dir, env), launch(project.dir, env)]);
  cleanup.push(async () => {
    await Promise.allSettled(relaunching);
    await Promise.all(engines.map((e) => e.stop("SIGKILL")));
  });
  const writer = taskWriter(db.pool);
  let kills = 0;
  let restarts = 0;

  // An engine killed in one round is started again while the next round runs (its start takes seconds), and
  // the rounds take turns killing one engine and the other, so each round kills one that is up.
  const relaunching: (Promise<void> | undefined)[] = [undefined, undefined];
  const relaunch = (t: number) => {
    relaunching[t] = (async () => {
      // Down for a while longer, as a supervisor would restart it.
      await sleep(rnd.between(0, 1000));
      engines[t] = await launch(project.dir, env);
      restarts++;
    })();
  };
  const first = rnd.between(0, 1);
  for (let round = 0; round < ROUNDS; round++) {
    const last = round === ROUNDS - 1 && ROUNDS > 1;
    const targets = last ? [0, 1] : [(first + round) % 2];
    for (const t of targets) await relaunching[t];
    const upTo = Math.round((RUNS * (round + 1)) / ROUNDS);
    const writing = writer.write(upTo);
    // A random moment while this round's tasks are being written and run.
    await sleep(rnd.between(100, 1500));
    for (const t of targets) {
      engines[t]!.proc.kill("SIGKILL");
      await engines[t]!.exited;
      kills++;
    }
    await writing;
    for (const t of targets) relaunch(t);
  }
  await Promise.all(relaunching);

  const tally = await settle(() => tallyTasks(db.pool, RUNS, "on-task"), 180_000);
  await diagnose("kill", db.pool, tally, engines);
  report({
    scenario: "engines SIGKILLed",
    runs: tally.runs,
    kills,
    restarts,
    injected: 0,
    lost: tally.lost,
    duplicated: tally.duplicated,
    seconds: (Date.now() - started) / 1000,
    note: `seed ${rnd.seed}`,
  });
  expect(tally.detail).toMatchObject({ runs: RUNS, finished: RUNS });
  expect({ lost: tally.lost, duplicated: tally.duplicated }).toEqual({ lost: 0, duplicated: 0 });
});
