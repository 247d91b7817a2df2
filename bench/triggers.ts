// Trigger costs, each next to its baseline measured in the same run: record commit -> run enqueued latency
// vs raw LISTEN/NOTIFY; drain rate of a 100,000-change backlog; the application's concurrent INSERT
// throughput with and without skyflow's row trigger (raw INSERTs, and record:save through the Skygear
// server's in-process handler); cron lateness and heap with 10,000 schedules.
// Run: DATABASE_URL=postgres://... npx tsx --expose-gc bench/triggers.ts [cron-seconds] [record|cron]
import { performance } from "node:perf_hooks";
import pg from "pg";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import type { Catalog, WorkflowDefinition } from "../src/engine/definition/types.js";
import { createEngine } from "../src/engine/engine.js";
import { startTriggers, type Triggers } from "../src/engine/triggers/index.js";
import { silentLogger } from "../src/log.js";
import { createRecordTableSQL, ensureAppSchema } from "../src/server/app-schema.js";
import { createSkygearHandler } from "../src/server/index.js";
import { SkygearContainer } from "../src/skygear/container.js";
import { createInProcessTransport } from "../src/skygear/transport-inprocess.js";
import type { StepKind } from "../src/steps/types.js";
import { median, pct, scratchDatabase, step } from "./lib.js";

const APP = "app_bench";
const CRON_SECONDS = Number(process.argv[2] ?? 65);
/** `record` or `cron` runs only that half. */
const ONLY = process.argv[3];
const now = () => performance.now();
const f = (n: number, d = 2) => n.toFixed(d);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function staticCatalog(list: WorkflowDefinition[]): Catalog {
  const byName = new Map(list.map((w) => [w.name, w]));
  return { get: (n) => byName.get(n), list: () => list, subscribe: () => () => {} };
}

function wf(name: string, trigger: WorkflowDefinition["triggers"][number]): WorkflowDefinition {
  return {
    name,
    file: `${name}.yaml`,
    enabled: true,
    version: "v1",
    source: "",
    triggers: [trigger],
    steps: [],
    onFailure: [],
  };
}

const onTask = wf("on_task", { kind: "record", type: "task", database: "_public", events: ["create"] });

let seq = 0;
const insertSQL = (table: string) =>
  `INSERT INTO ${APP}.${table} (_id, _database_id, _owner_id, _created_at, _updated_at, title)
   VALUES ($1, '', 'u1', now(), now(), 'bench')`;

/** Raw NOTIFY: send (autocommit, so it includes the commit) -> listener callback, serial, 3 ms apart. */
async function rawNotify(url: string, n: number): Promise<number[]> {
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), sender.connect()]);
  await listener.query("LISTEN bench_raw");
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const got = new Promise<number>((res) => listener.once("notification", () => res(now())));
    const t0 = now();
    await sender.query("SELECT pg_notify('bench_raw', 'x')");
    out.push((await got) - t0);
    await sleep(3);
  }
  await Promise.all([listener.end(), sender.end()]);
  return out;
}

/**
 * Inserts n records one at a time, 3 ms apart, and times each from the INSERT's send (autocommit, so it
 * includes the app's durable commit, like the raw NOTIFY figure) and from its answer to the moment `arrived`
 * resolves (it is called just before each insert).
 */
async function serialLatency(
  app: pg.PoolClient,
  n: number,
  prefix: string,
  arrived: () => Promise<number>,
): Promise<{ fromSend: number[]; fromCommit: number[] }> {
  const fromSend: number[] = [];
  const fromCommit: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = arrived();
    const t0 = now();
    await app.query(insertSQL("task"), [`${prefix}-${seq++}`]);
    const t1 = now();
    const ta = await at;
    fromSend.push(ta - t0);
    fromCommit.push(ta - t1);
    await sleep(3);
  }
  return { fromSend, fromCommit };
}

/** Record path to the trigger's wake(), called after the run's enqueue commits. */
const recordLatency = (app: pg.PoolClient, waiters: (() => void)[], n: number) =>
  serialLatency(app, n, "lat", () => new Promise<number>((res) => waiters.push(() => res(now()))));

/**
 * Record commit to the run's first step starting, with an engine in this process, wired as the daemon wires
 * it: the trigger creates the run leased to the engine and hands it over, the engine begins the step (a
 * durable save), and the step notes the time it starts.
 */
async function firstStepLatency(
  app: pg.Pool,
  enginePool: pg.Pool,
  opts: { appSchema: string; log: ReturnType<typeof silentLogger> },
  n: number,
): Promise<{ fromSend: number[]; fromCommit: number[] }> {
  let started: ((t: number) => void) | undefined;
  const mark: StepKind = {
    kind: "mark",

    run: async () => {
      started?.(now());
      return {};
    },
  };
  const def: WorkflowDefinition = { ...onTask, name: "on_task_step", steps: [step("m", "mark", {})] };
  const catalog = staticCatalog([def]);
  const skygear = saveClient(app);
  const clients = {
    skygear: skygear.container,
    pool: enginePool,
    appSchema: opts.appSchema,
    pubsub: { publish: async () => {} },
  };
  const engine = createEngine({ pool: enginePool, catalog, clients, log: opts.log, stepKinds: { mark } });
  await engine.start();
  const t = await startTriggers({
    ...opts,
    pool: enginePool,
    catalog,
    wake: () => engine.wake(),
    handoff: engine.handoff(),
  });
  await sleep(500);
  const writer = await app.connect();
  try {
    return await serialLatency(
      writer,
      n,
      "first",
      () =>
        new Promise<number>((res) => {
          started = res;
        }),
    );
  } finally {
    writer.release();
    await t.stop();
    await engine.stop();
    await skygear.close();
  }
}

/** Calls of `op` per second with 32 concurrent callers, for `ms`. */
async function rate(ms: number, op: () => Promise<unknown>): Promise<number> {
  let done = 0;
  const end = now() + ms;
  const t0 = now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (now() < end) {
        await op();
        done++;
      }
    }),
  );
  return done / ((now() - t0) / 1000);
}

/** Concurrent INSERTs on the app pool; inserts per second. */
const writeRate = (app: pg.Pool, table: string, ms: number) =>
  rate(ms, () => app.query(insertSQL(table), [`w-${seq++}`]));

async function recordBenches(url: string, app: pg.Pool, engine: pg.Pool): Promise<void> {
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const opts = { pool: engine, catalog: staticCatalog([onTask]), appSchema: APP, wake, log: silentLogger() };
  let t: Triggers = await startTriggers(opts);
  await sleep(500);

  const raw: number[] = [];
  const rec: number[] = [];
  const recCommit: number[] = [];
  const writer = await app.connect();
  for (let round = 0; round < 5; round++) {
    raw.push(...(await rawNotify(url, 100)));
    const r = await recordLatency(writer, waiters, 100);
    rec.push(...r.fromSend);
    recCommit.push(...r.fromCommit);
  }
  writer.release();
  console.log(
    `raw NOTIFY send->callback        p50 ${f(median(raw))} ms  p99 ${f(pct(raw, 99))} ms  (n=${raw.length})`,
  );
  console.log(
    `record INSERT send->run enqueued p50 ${f(median(rec))} ms  p99 ${f(pct(rec, 99))} ms  (n=${rec.length})`,
  );
  console.log(
    `record commit ack->run enqueued  p50 ${f(median(recCommit))} ms  p99 ${f(pct(recCommit, 99))} ms`,
  );
  // Only this phase's triggers and engine may claim its changes; runs of the phase above are cleared.
  await t.stop();
  await engine.query("TRUNCATE skyflow.runs CASCADE");
  const first = await firstStepLatency(app, engine, opts, 500);
  console.log(
    `record INSERT send->first step p50 ${f(median(first.fromSend))} ms  p99 ${f(pct(first.fromSend, 99))} ms`,
  );
  console.log(
    `record commit ack->first step  p50 ${f(median(first.fromCommit))} ms  p99 ${f(pct(first.fromCommit, 99))} ms ` +
      "(an engine in this process runs a one-step workflow)",
  );
  console.log(`  targets: p50 <= 3 ms; p99 <= 2 x raw p99 + 5 = ${f(2 * pct(raw, 99) + 5)} ms`);

  // Backlog: 100,000 changes written while no engine runs.
  await engine.query("TRUNCATE skyflow.runs CASCADE");
  await app.query(
    `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _updated_at, title)
     SELECT 'bl-' || i, '', 'u1', now(), now(), 'backlog' FROM generate_series(1, 100000) i`,
  );
  // Drained means every run finished, not created: an engine in this process runs a one-step no-op
  // workflow, wired as the daemon wires it.
  const noop: StepKind = { kind: "noop", run: async () => ({}) };
  const drainDef: WorkflowDefinition = { ...onTask, steps: [step("n", "noop", {})] };
  const drainCatalog = staticCatalog([drainDef]);
  const drainSkygear = saveClient(app);
  const drainer = createEngine({
    pool: engine,
    catalog: drainCatalog,
    clients: {
      skygear: drainSkygear.container,
      pool: engine,
      appSchema: APP,
      pubsub: { publish: async () => {} },
    },
    log: opts.log,
    stepKinds: { noop },
  });
  const t0 = now();
  let created = 0;
  await drainer.start();
  t = await startTriggers({
    ...opts,
    catalog: drainCatalog,
    wake: () => drainer.wake(),
    handoff: drainer.handoff(),
  });
  for (;;) {
    const { rows } = await engine.query(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE status IN ('succeeded', 'failed'))::int AS done FROM skyflow.runs",
    );
    if (created === 0 && rows[0].n >= 100_000) created = (now() - t0) / 1000;
    if (rows[0].done >= 100_000) break;
    await sleep(100);
  }
  const secs = (now() - t0) / 1000;
  await t.stop();
  await drainer.stop();
  await drainSkygear.close();
  t = await startTriggers(opts);
  console.log(
    `backlog drain             100,000 runs finished in ${f(secs)} s = ${f(100_000 / secs, 0)} runs/s ` +
      `(all created after ${f(created)} s; a one-step no-op workflow, engine and triggers in this process)`,
  );

  // The backlog left 100,000 new rows in runs and as many dead ones in the outbox: vacuum them now, or
  // autovacuum does it during the rounds below and charges whichever rounds it overlaps.
  await engine.query("VACUUM ANALYZE skyflow.runs, skyflow.record_outbox");

  // Application write throughput: the same inserts into a table without the trigger and one with it,
  // first with the engine running and draining (as in production), then with it stopped (the trigger
  // alone); alternating rounds, medians.
  const skygear = saveClient(app);
  await writeRounds(app, "engine draining");
  const since = new Date();
  await saveRounds(skygear.container, "engine draining");
  await t.stop();
  // Under that load changes are claimed in batches a few ms apart: change -> run created, per run.
  const { rows: lag } = await engine.query<{ ms: number }>(
    `SELECT extract(epoch FROM created_at - (event->>'at')::timestamptz) * 1000 AS ms
     FROM skyflow.runs WHERE created_at >= $1`,
    [since],
  );
  const lagMs = lag.map((r) => Number(r.ms));
  console.log(
    `  under that load, change -> run created: p50 ${f(median(lagMs))} ms, p99 ${f(pct(lagMs, 99))} ms (n=${lagMs.length})`,
  );
  await writeRounds(app, "engine stopped");
  await saveRounds(skygear.container, "engine stopped");
  await skygear.close();
  await engine.query("TRUNCATE skyflow.record_outbox");
}

async function writeRounds(app: pg.Pool, label: string): Promise<void> {
  const plain: number[] = [];
  const withTrigger: number[] = [];
  // Counts the trigger's NOTIFYs during the with-trigger rounds (the wake flag should keep them rare).
  const counter = new pg.Client({
    connectionString: (app.options as { connectionString: string }).connectionString,
  });
  await counter.connect();
  await counter.query("LISTEN skyflow_record");
  let notifies = 0;
  counter.on("notification", () => notifies++);
  for (let round = 0; round < 5; round++) {
    plain.push(await writeRate(app, "plain", 3_000));
    const before = seq;
    const n0 = notifies;
    withTrigger.push(await writeRate(app, "task", 3_000));
    if (round === 4)
      console.log(`  NOTIFYs in the last with-trigger round: ${notifies - n0} for ${seq - before} inserts`);
  }
  await counter.end();
  const cost = 1 - median(withTrigger) / median(plain);
  console.log(
    `app INSERT x32 (${label}): without trigger ${f(median(plain), 0)}/s, with ${f(median(withTrigger), 0)}/s ` +
      `-> cost ${f(cost * 100, 1)}% (target <= 25%)`,
  );
  console.log(
    `  rounds without: ${plain.map((x) => f(x, 0)).join(", ")}; with: ${withTrigger.map((x) => f(x, 0)).join(", ")}`,
  );
}

/** The application's own write path: record:save through the Skygear server, in-process, as master. */
function saveClient(app: pg.Pool): { container: SkygearContainer; close: () => Promise<void> } {
  const config = { appName: "bench", schema: APP, apiKey: "bench-api", masterKey: "bench-master" };
  const handler = createSkygearHandler({ pool: app, config, log: silentLogger() });
  const container = new SkygearContainer({
    transport: createInProcessTransport(handler),
    apiKey: config.masterKey,
  });
  return { container, close: () => handler.close() };
}

/** Concurrent record:save calls through the Skygear handler; saves per second. */
const saveRate = (container: SkygearContainer, type: string, ms: number) =>
  rate(ms, () => container.save([{ _id: `${type}/s-${seq++}`, title: "saved" }]));

async function saveRounds(container: SkygearContainer, label: string): Promise<void> {
  const plain: number[] = [];
  const withTrigger: number[] = [];
  for (let round = 0; round < 5; round++) {
    plain.push(await saveRate(container, "plain", 3_000));
    withTrigger.push(await saveRate(container, "task", 3_000));
  }
  const cost = 1 - median(withTrigger) / median(plain);
  console.log(
    `app record:save x32 (${label}): without trigger ${f(median(plain), 0)}/s, with ${f(median(withTrigger), 0)}/s ` +
      `-> cost ${f(cost * 100, 1)}% (target <= 25%)`,
  );
}

async function cronBench(engine: pg.Pool): Promise<void> {
  await engine.query("TRUNCATE skyflow.runs CASCADE");
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const list = Array.from({ length: 10_000 }, (_, i) =>
    wf(`cron_${i}`, {
      kind: "cron",
      schedule: `${i % 60} * * * * *`,
      timezone: "Asia/Hong_Kong",
      catchUp: "none",
      overlap: "allow",
    }),
  );
  global.gc?.();
  const heapCatalog = process.memoryUsage().heapUsed;
  const t = await startTriggers({
    pool: engine,
    catalog: staticCatalog(list),
    appSchema: APP,
    wake: () => {},
    log: silentLogger(),
  });
  const started = new Date();
  await sleep(CRON_SECONDS * 1000);
  global.gc?.();
  const heapRun = process.memoryUsage().heapUsed;
  await t.stop();
  const { rows } = await engine.query<{ ms: number }>(
    "SELECT extract(epoch FROM fired_at - scheduled_at) * 1000 AS ms FROM skyflow.cron_fires WHERE scheduled_at >= $1",
    [started],
  );
  const late = rows.map((r) => Number(r.ms));
  console.log(
    `cron, 10,000 schedules    ${late.length} fires in ${CRON_SECONDS} s; lateness p50 ${f(median(late))} ms, ` +
      `p99 ${f(pct(late, 99))} ms (target p99 < 100 ms)`,
  );
  console.log(
    `  heap: ${f(heapRun / 2 ** 20, 1)} MB total with triggers running; catalog of 10,000 definitions ` +
      `${f((heapCatalog - heap0) / 2 ** 20, 1)} MB; triggers' share ${f((heapRun - heapCatalog) / 2 ** 20, 1)} MB ` +
      `(target <= 100 MB); RSS ${f(process.memoryUsage().rss / 2 ** 20, 0)} MB`,
  );
}

async function main(): Promise<void> {
  const db = await scratchDatabase("triggers");
  const app = createPool(db.url, { max: 10, applicationName: "bench-app" });
  const engine = createPool(db.url, { max: 10, applicationName: "bench-engine" });
  try {
    await migrate(engine);
    await ensureAppSchema(app, APP);
    await app.query(createRecordTableSQL(APP, "task"));
    await app.query(`ALTER TABLE ${APP}.task ADD COLUMN title text`);
    await app.query(createRecordTableSQL(APP, "plain"));
    await app.query(`ALTER TABLE ${APP}.plain ADD COLUMN title text`);
    if (ONLY !== "cron") await recordBenches(db.url, app, engine);
    if (ONLY !== "record") await cronBench(engine);
  } finally {
    await app.end();
    await engine.end();
    await db.drop();
  }
}

await main();
