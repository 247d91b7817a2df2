// Parked runs (sleep, wait_for), issue 17's targets. Prints:
//  - engine RSS with N sleeping runs parked against idle (alternating rounds);
//  - wake lateness, for SMALL and then WAKE of the N parked runs falling due within one second: due time ->
//    the sleep step ended (its try's finished_at: its end recorded, the run runnable) and due time -> the next
//    step started (that step's try started_at), p50/p99;
//  - wait_for with 1,000, 10,000 and N runs waiting (one record type each, rounds alternating between them):
//    a matching record -> the next step started (its try's started_at), p50/p99, counted from the INSERT's
//    own clock_timestamp() (before its commit, so the writer's commit flush counts) and from the writer's
//    commit acknowledgement; with the part up to the release in the trigger's transaction (the event kept in
//    wait_events, its clock_timestamp()) and the part from there to the next step (the trigger's release,
//    lease and commit, the engine's resume and the next step's begin save);
//  - the matcher's cost for a record that matches nothing with 1,000 and with N waiting runs (alternating).
// Parked runs are seeded in SQL exactly as the engine parks them. The engine gets the triggers' handoff, as
// in the daemon. All times are the database's clock except the commit acknowledgement (this process's, on
// the same host).
// Run: DATABASE_URL=postgres://... npx tsx --expose-gc bench/park.ts [N=100000] [WAKE=10000] [sleep|wait]
//   SMALL (default 1000): the smaller wake case; EVENTS (default 200): matching records per waiting size.
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
const SMALL = Number(process.env.SMALL ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 200);
const APP = "app_bench";
const f = (n: number, d = 1) => n.toFixed(d);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** wait_for workflows: record type -> how many runs wait on it. */
const WAITING: [string, number][] = [
  ["ev_1k", 1000],
  ["ev_10k", 10_000],
  ["ev_n", N],
];

/** PRIOR=1: the waiting step has a step before it, whose output the run reads back as it resumes. */
const PRIOR = process.env.PRIOR === "1";

const waiterYaml = (type: string) => `name: wait_${type}
on: { call: {} }
steps:${PRIOR ? "\n  - id: a\n    sql: { statement: SELECT 1 AS one }" : ""}
  - id: w
    wait_for:
      record: { type: ${type}, events: [create] }
      match: \${{ incoming.record.ref == event.input.key }}
      timeout: 1d
  - id: n
    sql: { statement: SELECT 1 }
`;

const YAML: Record<string, string> = {
  sleeper: `name: sleeper
on: { call: {} }
steps:
  - id: z
    sleep: 1h
  - id: n
    sql: { statement: SELECT 1 }
`,
  ...Object.fromEntries(WAITING.map(([t]) => [`wait_${t}`, waiterYaml(t)])),
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

const SNAPSHOT = (step: string, prior: boolean) =>
  JSON.stringify({
    v: 1,
    status: "running",
    phase: "main",
    index: prior ? 1 : 0,
    attempt: 1,
    startedAt: new Date().toISOString(),
    steps: {
      ...(prior ? { a: { status: "succeeded", attempts: 1 } } : {}),
      [step]: { status: "running", attempts: 1 },
    },
  });

/** `n` parked runs of `wf`, as parkRun leaves them; `due` is SQL for each one's available_at (i: 0..n-1). */
async function seed(
  db: pg.Pool,
  wf: WorkflowDefinition,
  n: number,
  o: { status: string; step: string; kind: string; due: string; prefix: string; source?: string },
): Promise<void> {
  const prior = PRIOR && o.kind === "wait_for";
  const wait =
    o.kind === "sleep"
      ? `jsonb_build_object('kind', 'sleep', 'step', '${o.step}', 'began', now(), 'until', ${o.due})`
      : `jsonb_build_object('kind', 'wait_for', 'step', '${o.step}', 'began', now(), 'until', ${o.due}, 'source', '${o.source}')`;
  await db.query(
    `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, snapshot, wait, available_at, started_at)
     SELECT gen_random_uuid(), $1, $2, $3 || i, jsonb_build_object('id', $3 || i, 'type', 'call', 'at', now(),
            'input', jsonb_build_object('key', $3 || i)), $4, $5::jsonb, ${wait}, ${o.due}, now()
     FROM generate_series(0, $6 - 1) i`,
    [wf.name, wf.version, o.prefix, o.status, SNAPSHOT(o.step, prior), n],
  );
  if (prior)
    await db.query(
      `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, run_attempt, kind, status, input, output, finished_at)
       SELECT id, 'a', 1, 1, 'sql', 'succeeded', '{}'::jsonb, '{"rows": [{"one": 1}], "row_count": 1}'::jsonb, now()
       FROM skyflow.runs WHERE workflow = $1 AND event_id LIKE $2 || '%'`,
      [wf.name, o.prefix],
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

const stats = (xs: number[]) =>
  `p50 ${f(median(xs))} ms, p99 ${f(pct(xs, 99))} ms, max ${f(Math.max(...xs))} ms`;

/** `k` of the parked sleepers made due within one second (3 s from now); lateness of their ends and next steps. */
async function wakeCase(db: pg.Pool, k: number, round: string): Promise<void> {
  await db.query("DROP TABLE IF EXISTS bench_due");
  await db.query(
    `CREATE TABLE bench_due AS
       SELECT id, now() + interval '3 seconds' + (row_number() OVER () % 1000) * interval '1 millisecond' AS due
       FROM skyflow.runs WHERE workflow = 'sleeper' AND status = 'sleeping' AND available_at > now() + interval '1 minute'
       LIMIT $1`,
    [k],
  );
  await db.query(
    `UPDATE skyflow.runs r SET available_at = d.due, wait = jsonb_set(r.wait, '{until}', to_jsonb(d.due))
       FROM bench_due d WHERE r.id = d.id`,
  );
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bench_due d JOIN skyflow.step_tries t ON t.run_id = d.id AND t.step_key = 'n'`,
    );
    if (rows[0]!.n >= k || Date.now() - t0 > 600_000) break;
    await sleep(200);
  }
  const { rows } = await db.query<{ ended: number | null; next: number | null }>(
    `SELECT extract(epoch FROM z.finished_at - d.due) * 1000 AS ended, extract(epoch FROM n.started_at - d.due) * 1000 AS next
       FROM bench_due d JOIN skyflow.step_tries z ON z.run_id = d.id AND z.step_key = 'z'
       LEFT JOIN skyflow.step_tries n ON n.run_id = d.id AND n.step_key = 'n'`,
  );
  const ended = rows.filter((r) => r.ended !== null).map((r) => Number(r.ended));
  const next = rows.filter((r) => r.next !== null).map((r) => Number(r.next));
  console.log(`${round}: ${k} of ${N} due in one second (${ended.length} ended, ${next.length} went on)`);
  console.log(`  due -> sleep step ended:   ${stats(ended)}`);
  console.log(`  due -> next step started:  ${stats(next)}`);
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `  this process's CPU (engine and bench) per woken run: ${f((cpu.user + cpu.system) / 1000 / k, 3)} ms`,
  );
}

async function sleepBench(db: pg.Pool, sleeper: WorkflowDefinition): Promise<void> {
  // 1. RSS: N sleeping runs parked (due in an hour) against idle, in alternating rounds.
  console.log(`\n== ${N} sleeping runs parked: engine process RSS ==`);
  // NO_RSS=1: one round, RSS not measured (the wake rounds only).
  const rounds = process.env.NO_RSS ? 1 : 2;
  for (let round = 1; round <= rounds; round++) {
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
    if (process.env.NO_RSS) break;
    await sleep(5000);
    const parked = rssMb();
    console.log(
      `round ${round}: idle ${f(idle)} MB, with ${N} parked ${f(parked)} MB (+${f(parked - idle)} MB)`,
    );
  }
  await db.query("VACUUM ANALYZE skyflow.runs");

  // 2. Wake lateness: SMALL, then WAKE of them due within one second, starting 3 s from now.
  console.log(`\n== sleeping runs due in the same second (of ${N} parked) ==`);
  await wakeCase(db, SMALL, "small");
  await wakeCase(db, WAKE, "large");
  await db.query("DROP TABLE IF EXISTS bench_due");
  // Runs still saving their ends would deadlock with the delete: it waits for them.
  for (let i = 0; i < 600; i++) {
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'sleeper' AND status = 'running'",
    );
    if (rows[0]!.n === 0) break;
    await sleep(500);
  }
  await db.query("DELETE FROM skyflow.runs WHERE workflow = 'sleeper'");
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase("park");
  // The engine's pool as the daemon's (20); the bench's own reads and writes use pools of their own.
  const db = createPool(scratch.url, { max: 20, applicationName: "bench-park" });
  const obs = createPool(scratch.url, { max: 2, applicationName: "bench-observer" });
  const app = createPool(scratch.url, { max: 4, applicationName: "bench-app" });
  try {
    await migrate(db);
    await ensureAppSchema(app, APP);
    for (const [t] of WAITING) {
      await app.query(createRecordTableSQL(APP, t));
      await app.query(`ALTER TABLE ${APP}.${t} ADD COLUMN ref text`);
    }
    const wfs = load();
    for (const w of wfs) await recordVersion(db, w);
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
      handoff: engine.handoff(),
      log,
    });
    await sleep(3000);
    console.log(
      `load average at start: ${(await import("node:os"))
        .loadavg()
        .map((x) => f(x, 2))
        .join(" ")}`,
    );

    if (ONLY !== "wait") await sleepBench(obs, catalog.get("sleeper")!);
    if (ONLY !== "sleep") await waitBench(obs, app, catalog);
    await triggers.stop();
    await engine.stop({ graceMs: 0 });
    console.log(
      `\nload average at end: ${(await import("node:os"))
        .loadavg()
        .map((x) => f(x, 2))
        .join(" ")}`,
    );
  } finally {
    await app.end();
    await obs.end();
    await db.end();
    await scratch.drop();
  }
}

async function waitBench(db: pg.Pool, app: pg.Pool, catalog: Catalog): Promise<void> {
  const log = silentLogger();
  // The sleep half's finished runs leave dead index entries that every claim would step over.
  await db.query("VACUUM ANALYZE skyflow.runs");
  for (const [type, n] of WAITING) {
    await seed(db, catalog.get(`wait_${type}`)!, n, {
      status: "waiting",
      step: "w",
      kind: "wait_for",
      due: "now() + interval '1 day'",
      prefix: `${type}-`,
      source: `record:${type}`,
    });
  }
  await db.query("ANALYZE skyflow.waits; ANALYZE skyflow.runs");
  await sleep(2000);

  // 3. A matching record -> the next step started, rounds alternating between the waiting sizes.
  console.log(`\n== wait_for: a matching record -> the next step started (${EVENTS} records per size) ==`);
  const fromStmt = new Map<string, number[]>();
  const fromAck = new Map<string, number[]>();
  const toRelease = new Map<string, number[]>();
  const fromRelease = new Map<string, number[]>();
  const used = new Set<string>();
  const ROUNDS = 4;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [type, n] of round % 2 ? [...WAITING].reverse() : WAITING) {
      for (let i = 0; i < EVENTS / ROUNDS; i++) {
        let k: number;
        do k = Math.floor(Math.random() * n);
        while (used.has(`${type}${k}`));
        used.add(`${type}${k}`);
        const key = `${type}-${k}`;
        const { rows: ids } = await db.query<{ id: string }>(
          "SELECT id FROM skyflow.runs WHERE workflow = $1 AND event_id = $2",
          [`wait_${type}`, key],
        );
        const runId = ids[0]!.id;
        const { rows } = await app.query<{ at: string }>(
          `INSERT INTO ${APP}.${type} (_id, _database_id, _owner_id, _created_at, _created_by, _updated_at, _updated_by, ref)
           VALUES ($1, '', 'u1', now(), 'u1', now(), 'u1', $2)
           RETURNING extract(epoch FROM clock_timestamp()) * 1000 AS at`,
          [`e${round}-${i}`, key],
        );
        const acked = performance.timeOrigin + performance.now();
        const at = Number(rows[0]!.at);
        for (let t = 0; t < 5000; t++) {
          const r = await db.query<{ s: string }>(
            "SELECT extract(epoch FROM started_at) * 1000 AS s FROM skyflow.step_tries WHERE run_id = $1 AND step_key = 'n'",
            [runId],
          );
          if (r.rows[0]) {
            const s = Number(r.rows[0].s);
            const push = (m: Map<string, number[]>, v: number) => m.set(type, [...(m.get(type) ?? []), v]);
            push(fromStmt, s - at);
            push(fromAck, s - acked);
            const w = await db.query<{ at: string }>(
              "SELECT extract(epoch FROM at) * 1000 AS at FROM skyflow.wait_events WHERE event->'record'->>'_id' = $1",
              [`${type}/e${round}-${i}`],
            );
            if (w.rows[0]) {
              push(toRelease, Number(w.rows[0].at) - at);
              push(fromRelease, s - Number(w.rows[0].at));
            }
            break;
          }
          await sleep(2);
        }
        await sleep(20);
      }
    }
  }
  for (const [type, n] of WAITING) {
    const a = fromStmt.get(type) ?? [];
    const b = fromAck.get(type) ?? [];
    const c = toRelease.get(type) ?? [];
    console.log(`${String(n).padStart(6)} waiting (${a.length} records):`);
    console.log(`  from the INSERT (before its commit): p50 ${f(median(a))} ms, p99 ${f(pct(a, 99))} ms`);
    console.log(`  from the writer's commit ack:        p50 ${f(median(b))} ms, p99 ${f(pct(b, 99))} ms`);
    const d = fromRelease.get(type) ?? [];
    console.log(`  of which INSERT -> release (the trigger's transaction): p50 ${f(median(c))} ms`);
    console.log(`  and release -> next step started: p50 ${f(median(d))} ms, p99 ${f(pct(d, 99))} ms`);
  }

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
      for (const [type, n] of round % 2 ? [WAITING[0]!, WAITING[2]!] : [WAITING[2]!, WAITING[0]!]) {
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

await main();
