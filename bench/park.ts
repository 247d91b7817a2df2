// Parked runs (sleep, wait_for): engine RSS with N sleeping runs parked against idle; wake lateness when
// WAKE of them fall due within one second; wait_for from a matching record's commit to the next step's start
// (p50/p99) with N runs waiting; the matcher's cost for a record that matches nothing with 1,000 and with N
// waiting runs, in alternating rounds. Parked runs are seeded in SQL exactly as the engine parks them.
// Run: DATABASE_URL=postgres://... npx tsx --expose-gc bench/park.ts [N=100000] [WAKE=10000] [sleep|wait]
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { loadWorkflowSource } from "../src/engine/definition/load.js";
import type { Catalog, TriggerEvent, WorkflowDefinition } from "../src/engine/definition/types.js";
import { createEngine } from "../src/engine/engine.js";
import { WaitMatcher } from "../src/engine/park/match.js";
import { recordVersion } from "../src/engine/store/versions.js";
import { startTriggers } from "../src/engine/triggers/index.js";
import { silentLogger } from "../src/log.js";
import { createRecordTableSQL, ensureAppSchema } from "../src/server/app-schema.js";
import { median, pct, scratchDatabase } from "./lib.js";

const N = Number(process.argv[2] ?? 100_000);
const WAKE = Number(process.argv[3] ?? 10_000);
/** `sleep` or `wait` runs only that half. */
const ONLY = process.argv[4];
const APP = "app_bench";
const f = (n: number, d = 1) => n.toFixed(d);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const YAML = {
  sleeper: `name: sleeper
on: { call: {} }
steps:
  - id: z
    sleep: 1h
`,
  waiter: `name: waiter
on: { call: {} }
steps:
  - id: w
    wait_for:
      record: { type: ev, events: [create] }
      match: \${{ incoming.record.ref == event.input.key }}
      timeout: 1d
  - id: n
    sql: { statement: SELECT 1 }
`,
  small: `name: small
on: { call: {} }
steps:
  - id: w
    wait_for:
      record: { type: ev_small, events: [create] }
      match: \${{ incoming.record.ref == event.input.key }}
      timeout: 1d
`,
};

function load(): WorkflowDefinition[] {
  return Object.entries(YAML).map(([name, y]) => {
    const r = loadWorkflowSource(`workflows/${name}.yaml`, y);
    if (!r.workflow) throw new Error(JSON.stringify(r.problems));
    return r.workflow;
  });
}

const catalogOf = (list: WorkflowDefinition[]): Catalog => ({
  get: (n) => list.find((w) => w.name === n),
  list: () => list,
  subscribe: () => () => {},
});

const SNAPSHOT = (step: string) =>
  JSON.stringify({
    v: 1,
    status: "running",
    phase: "main",
    index: 0,
    attempt: 1,
    startedAt: new Date().toISOString(),
    steps: { [step]: { status: "running", attempts: 1 } },
  });

/** `n` parked runs of `wf`, as parkRun leaves them; `due` is SQL for each one's available_at (i: 0..n-1). */
async function seed(
  db: pg.Pool,
  wf: WorkflowDefinition,
  n: number,
  o: { status: string; step: string; kind: string; due: string; prefix: string; source?: string },
): Promise<void> {
  const wait =
    o.kind === "sleep"
      ? `jsonb_build_object('kind', 'sleep', 'step', '${o.step}', 'began', now(), 'until', ${o.due})`
      : `jsonb_build_object('kind', 'wait_for', 'step', '${o.step}', 'began', now(), 'until', ${o.due}, 'source', '${o.source}')`;
  await db.query(
    `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, snapshot, wait, available_at, started_at)
     SELECT gen_random_uuid(), $1, $2, $3 || i, jsonb_build_object('id', $3 || i, 'type', 'call', 'at', now(),
            'input', jsonb_build_object('key', $3 || i)), $4, $5::jsonb, ${wait}, ${o.due}, now()
     FROM generate_series(0, $6 - 1) i`,
    [wf.name, wf.version, o.prefix, o.status, SNAPSHOT(o.step), n],
  );
  await db.query(
    `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, run_attempt, kind, status, input)
     SELECT id, $2, 1, 1, $3, 'running', '{}'::jsonb FROM skyflow.runs WHERE workflow = $1 AND event_id LIKE $4 || '%'`,
    [wf.name, o.step, o.kind, o.prefix],
  );
  if (o.kind !== "wait_for") return;
  await db.query(
    `INSERT INTO skyflow.wait_exprs (source, expr_id, expr) VALUES ($1, 'e1', 'incoming.record.ref') ON CONFLICT DO NOTHING`,
    [o.source],
  );
  await db.query(
    `INSERT INTO skyflow.waits (run_id, source, expr_id, key, step_key, match, filter, ctx, until)
     SELECT id, $2, 'e1', to_jsonb(event->'input'->>'key')::text, $3, '',
            jsonb_build_object('kind', 'record', 'type', split_part($2, ':', 2), 'database', '_public', 'events', jsonb_build_array('create')),
            jsonb_build_object('event', event, 'steps', '{}'::jsonb, 'run', jsonb_build_object('id', id)), available_at
     FROM skyflow.runs WHERE workflow = $1 AND event_id LIKE $4 || '%'`,
    [wf.name, o.source, o.step, o.prefix],
  );
}

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1e6;
}

async function sleepBench(db: pg.Pool, sleeper: WorkflowDefinition): Promise<void> {
  // 1. RSS: N sleeping runs parked (due in an hour) against idle, in alternating rounds.
  console.log(`\n== ${N} sleeping runs parked: engine process RSS ==`);
  for (let round = 1; round <= 2; round++) {
    await db.query("DELETE FROM skyflow.runs WHERE workflow = 'sleeper'");
    await sleep(3000);
    const idle = rssMb();
    await seed(db, sleeper, N, {
      status: "sleeping",
      step: "z",
      kind: "sleep",
      due: "now() + interval '1 hour'",
      prefix: `s${round}-`,
    });
    await sleep(5000);
    const parked = rssMb();
    console.log(
      `round ${round}: idle ${f(idle)} MB, with ${N} parked ${f(parked)} MB (+${f(parked - idle)} MB)`,
    );
  }

  // 2. Wake lateness: WAKE of them due within one second, starting 3 s from now.
  console.log(`\n== ${WAKE} sleeping runs due in the same second (of ${N} parked) ==`);
  await db.query(
    `UPDATE skyflow.runs SET available_at = t.at, wait = jsonb_set(wait, '{until}', to_jsonb(t.at))
       FROM (SELECT id, now() + interval '3 seconds' + (row_number() OVER () % 1000) * interval '1 millisecond' AS at
             FROM skyflow.runs WHERE workflow = 'sleeper' LIMIT $1) t WHERE skyflow.runs.id = t.id`,
    [WAKE],
  );
  // The due times, kept apart: a resumed run's wait is cleared.
  await db.query(
    "CREATE TABLE bench_due AS SELECT id, available_at AS due FROM skyflow.runs WHERE workflow = 'sleeper' AND available_at < now() + interval '1 minute'",
  );
  for (;;) {
    const { rows } = await db.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'sleeper' AND status = 'succeeded'",
    );
    if (rows[0].n >= WAKE) break;
    await sleep(200);
  }
  const { rows: late } = await db.query<{ ms: number }>(
    `SELECT extract(epoch FROM t.finished_at - d.due) * 1000 AS ms
       FROM bench_due d JOIN skyflow.step_tries t ON t.run_id = d.id AND t.step_key = 'z'`,
  );
  const ms = late.map((r) => Number(r.ms));
  console.log(
    `wake lateness (due -> sleep step ended): p50 ${f(median(ms))} ms, p99 ${f(pct(ms, 99))} ms, max ${f(Math.max(...ms))} ms`,
  );
  await db.query("DELETE FROM skyflow.runs WHERE workflow = 'sleeper'");
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase("park");
  const db = createPool(scratch.url, { max: 10, applicationName: "bench-park" });
  const app = createPool(scratch.url, { max: 4, applicationName: "bench-app" });
  try {
    await migrate(db);
    await ensureAppSchema(app, APP);
    for (const t of ["ev", "ev_small"]) {
      await app.query(createRecordTableSQL(APP, t));
      await app.query(`ALTER TABLE ${APP}.${t} ADD COLUMN ref text`);
    }
    const wfs = load();
    for (const w of wfs) await recordVersion(db, w);
    const [sleeper, waiter, small] = wfs as [WorkflowDefinition, WorkflowDefinition, WorkflowDefinition];
    const catalog = catalogOf(wfs);
    const clients = {
      skygear: undefined as never,
      pool: db,
      appSchema: APP,
      pubsub: { publish: async () => {} },
    };
    const log = silentLogger();
    const maxRuns = Number(process.env.BENCH_MAX_RUNS ?? 200);
    const engine = createEngine({ pool: db, catalog, clients, log, pollMs: 1000, maxRuns });
    await engine.start();
    const triggers = await startTriggers({
      pool: db,
      catalog,
      appSchema: APP,
      wake: () => engine.wake(),
      log,
    });
    await sleep(3000);

    if (ONLY !== "wait") await sleepBench(db, sleeper);

    // 3. wait_for: N waiting runs; a matching record's commit -> the next step's start.
    console.log(`\n== ${N} runs waiting on wait_for (record ev) ==`);
    if (ONLY !== "sleep") await waitBench(db, app, waiter, small, catalog);
    await triggers.stop();
    await engine.stop({ graceMs: 0 });
  } finally {
    await app.end();
    await db.end();
    await scratch.drop();
  }
}

async function waitBench(
  db: pg.Pool,
  app: pg.Pool,
  waiter: WorkflowDefinition,
  small: WorkflowDefinition,
  catalog: Catalog,
): Promise<void> {
  const log = silentLogger();
  {
    // The sleep half's finished runs leave dead index entries that every claim would step over.
    await db.query("VACUUM ANALYZE skyflow.runs");
    await seed(db, waiter, N, {
      status: "waiting",
      step: "w",
      kind: "wait_for",
      due: "now() + interval '1 day'",
      prefix: "k",
      source: "record:ev",
    });
    await seed(db, small, 1000, {
      status: "waiting",
      step: "w",
      kind: "wait_for",
      due: "now() + interval '1 day'",
      prefix: "q",
      source: "record:ev_small",
    });
    await db.query("ANALYZE skyflow.waits; ANALYZE skyflow.runs");
    await sleep(2000);
    const lat: number[] = [];
    const toRelease: number[] = [];
    const toStep: number[] = [];
    for (let i = 0; i < 300; i++) {
      const key = `k${Math.floor(Math.random() * N)}`;
      const { rows } = await app.query<{ at: Date }>(
        `INSERT INTO ${APP}.ev (_id, _database_id, _owner_id, _created_at, _created_by, _updated_at, _updated_by, ref)
         VALUES ($1, '', 'u1', now(), 'u1', now(), 'u1', $2) RETURNING clock_timestamp() AS at`,
        [`e${i}`, key],
      );
      const at = rows[0]!.at.getTime();
      for (let t = 0; t < 2000; t++) {
        const r = await db.query<{ s: Date }>(
          `SELECT t.started_at AS s FROM skyflow.runs r JOIN skyflow.step_tries t ON t.run_id = r.id AND t.step_key = 'n'
           WHERE r.workflow = 'waiter' AND r.event_id = $1`,
          [key],
        );
        if (r.rows[0]) {
          lat.push(r.rows[0].s.getTime() - at);
          const w = await db.query<{ at: Date }>(
            "SELECT at FROM skyflow.wait_events WHERE event->'record'->>'_id' = $1",
            [`ev/e${i}`],
          );
          if (w.rows[0]) {
            toRelease.push(w.rows[0].at.getTime() - at);
            toStep.push(r.rows[0].s.getTime() - w.rows[0].at.getTime());
          }
          break;
        }
        await sleep(1);
      }
      await sleep(20);
    }
    console.log(
      `matching record commit -> next step started (${lat.length} events): p50 ${f(median(lat))} ms, p99 ${f(pct(lat, 99))} ms`,
    );
    console.log(
      `  of which commit -> release in the trigger's transaction p50 ${f(median(toRelease))} ms, release -> next step p50 ${f(median(toStep))} ms`,
    );

    // 4. A record that matches nothing: the matcher's work in the trigger's transaction, 1,000 vs N waiting.
    console.log("\n== a record that matches nothing: matcher cost per event (rolled back) ==");
    const matcher = new WaitMatcher({ catalog, env: {}, log, clock: () => new Date() });
    const event = (type: string, i: number): TriggerEvent => ({
      id: `x${i}`,
      type: "record",
      at: new Date().toISOString(),
      op: "create",
      record_type: type,
      database: "_public",
      record: { _id: `${type}/x${i}`, ref: `nobody-${i}` },
      original: null,
    });
    const client = await db.connect();
    try {
      for (let round = 1; round <= 3; round++) {
        for (const [type, n] of [
          ["ev_small", 1000],
          ["ev", N],
        ] as const) {
          const times: number[] = [];
          for (let i = 0; i < 500; i++) {
            await client.query("BEGIN");
            const t0 = performance.now();
            await matcher.release(client, [event(type, i)]);
            times.push(performance.now() - t0);
            await client.query("ROLLBACK");
          }
          console.log(
            `round ${round}: ${String(n).padStart(6)} waiting: mean ${f(times.reduce((a, b) => a + b, 0) / times.length, 3)} ms, p50 ${f(median(times), 3)} ms, p99 ${f(pct(times, 99), 3)} ms`,
          );
        }
      }
    } finally {
      client.release();
    }
  }
}

await main();
