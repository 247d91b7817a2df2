// skyflow against graphile-worker 0.16.6 doing the same work, on the same machine and database server, in
// alternating rounds whose order swaps every round; ratios printed with their min/median/max. Every engine
// runs in its own process (skyflow: `node bin/skyflow.js start` from dist/, so run `npm run build` first;
// graphile-worker: bench/peer-child.mjs), so that its peak RSS and CPU are its own.
//   backlog  N record changes committed while no engine runs, then one engine started: time from ready to
//            the last run finished, runs/s, peak RSS; skyflow's one-step `sql` workflow against a job whose
//            handler makes the same INSERT, and a `publish` step against a no-op job
//   latency  records inserted at 100/s, open loop, by another process: commit acknowledged -> first step's
//            statement (skyflow) / handler's statement (graphile-worker), p50/p99; idle RSS of each
//   three    query + save + sql through a Skygear server (`skyflow serve`), against one job making the same
//            three calls through the same server with skyflow's client
//   write    the application's single-row INSERT rate, 32 callers, into a watched table (trigger installed)
//            against an unwatched one; the same for record:save through the Skygear handler
//   scale    the backlog drained by one and by two `skyflow start` processes on one database; duplicates
// Run: DATABASE_URL=postgres://.../any npm run bench:peers [-- [sections...] [--n=20000] [--rounds=3]
//      [--latency-secs=10] [--latency-rate=100] [--three=2000] [--write-ms=3000]]. Uses (drops and recreates) the database
//      skyflow_bench on DATABASE_URL's server. PEER_SKYFLOW_NODE_ARGS: Node flags for the daemons
//      (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", or bench/probe.mjs's event-loop stalls and collections);
//      PEER_CONCURRENCY: graphile-worker's (default 10).
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { runMigrations } from "graphile-worker";
import pg from "pg";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { silentLogger } from "../src/log.js";
import { createRecordTableSQL, ensureAppSchema } from "../src/server/app-schema.js";
import { createSkygearHandler } from "../src/server/index.js";
import { SkygearContainer } from "../src/skygear/container.js";
import { createInProcessTransport } from "../src/skygear/transport-inprocess.js";
import { BackendCpu, median, pct, procCpuMs, procMemMb } from "./lib.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CHILD = `${ROOT}bench/peer-child.mjs`;
// PEER_SKYFLOW_BIN: another build's bin/skyflow.js (a copy of bin/ and dist/ from before a change, to compare).
const SKYFLOW = process.env.PEER_SKYFLOW_BIN ?? `${ROOT}bin/skyflow.js`;
const APP = "app_bench";
// PEER_DB: another database name, so that two benches on one server do not drop each other's database.
const DB = process.env.PEER_DB ?? "skyflow_bench";
const KEYS = { SKYGEAR_API_KEY: "bench-peers-api-key", SKYGEAR_MASTER_KEY: "bench-peers-master-key" };

const opt = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const N = opt("n", 20_000);
const ROUNDS = opt("rounds", 3);
const LATENCY_SECS = opt("latency-secs", 10);
const LATENCY_RATE = opt("latency-rate", 100);
const THREE_N = opt("three", 2_000);
const WRITE_MS = opt("write-ms", 3_000);
const ALL = ["backlog", "latency", "three", "write", "scale"];
// --only=skyflow: skyflow's side alone (for profiling it); the ratios are then not printed. --only=ab: in the
// backlog and latency, skyflow against skyflow with PEER_SKYFLOW_BIN_B and/or PEER_SKYFLOW_NODE_ARGS_B (a change's
// before and after, alternating), printed as "skyflow" (A) against "graphile-worker" (B); in three too.
const ONLY = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const picked = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const SECTIONS = picked.length > 0 ? picked : ALL;

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = (n: number | undefined, d = 2) => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(d));
const spread = (xs: number[], d = 2) =>
  `${f(median(xs), d)} (min ${f(Math.min(...xs), d)}, max ${f(Math.max(...xs), d)})`;

const base = process.env.DATABASE_URL;
if (!base) throw new Error("set DATABASE_URL to a Postgres server for the bench");
const url = (() => {
  const u = new URL(base);
  u.pathname = `/${DB}`;
  return u.toString();
})();

// ---------------------------------------------------------------------------------------------------------
// Workflows of the skyflow side. A task's title is its key: both sides pass the same text along.

const SQL_STEP = `  - id: log
    sql:
      statement: INSERT INTO sink (task_id) VALUES ($1)
      params: ["\${{ event.record.title }}"]
`;
const WORKFLOWS: Record<string, string> = {
  sql: `on:\n  record: {type: task, events: [create]}\nsteps:\n${SQL_STEP}`,
  publish: `on:
  record: {type: task, events: [create]}
steps:
  - id: tell
    publish: {channel: bench, data: {id: "\${{ event.record.title }}"}}
`,
  three: `on:
  record: {type: task, events: [create]}
steps:
  - id: find
    query: {type: task, where: {title: "\${{ event.record.title }}"}, limit: 1}
  - id: mark
    save:
      as: master
      record: {_id: "mark/\${{ event.record.title }}", task: "\${{ event.record.title }}"}
${SQL_STEP}`,
};

const dirs = new Map<string, string>();
function workflowDir(mode: string): string {
  let d = dirs.get(mode);
  if (!d) {
    d = mkdtempSync(join(tmpdir(), `skyflow-peers-${mode}-`));
    mkdirSync(join(d, "workflows"));
    writeFileSync(join(d, "workflows", `on-task-${mode}.yaml`), WORKFLOWS[mode]!);
    dirs.set(mode, d);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

interface Proc {
  child: ChildProcess;
  out: () => string;
  waitFor: (text: string, timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

let nextPort = 24_000 + Math.floor(Math.random() * 20_000);

function launch(argv: string[], env: Record<string, string>, cwd = ROOT): Proc {
  const child = spawn(process.execPath, argv, {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (c) => {
    // PEER_CHILD_LOG=/tmp/x: each child's stdout also goes to /tmp/x.<pid> (with --trace-gc-nvp, say).
    if (process.env.PEER_CHILD_LOG) appendFileSync(`${process.env.PEER_CHILD_LOG}.${child.pid}`, c);
    out += c;
    if (out.length > 1_000_000) out = out.slice(-100_000);
  });
  child.stderr!.on("data", (c) => {
    out += c;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    out: () => out,
    async waitFor(text, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      while (!out.includes(text)) {
        if (child.exitCode !== null)
          throw new Error(`child exited (${child.exitCode}):\n${out.slice(-3000)}`);
        if (Date.now() > end) throw new Error(`timed out waiting for ${text}:\n${out.slice(-3000)}`);
        await sleep(5);
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** `skyflow start` on the mode's workflow; resolves once it logged that it started. */
async function startSkyflow(
  mode: string,
  extraEnv: Record<string, string> = {},
  variant: "" | "_B" = "",
): Promise<Proc> {
  // PEER_SKYFLOW_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": to profile the daemon.
  const nodeArgs = (process.env[`PEER_SKYFLOW_NODE_ARGS${variant}`] ?? "").split(" ").filter(Boolean);
  const bin = (variant && process.env.PEER_SKYFLOW_BIN_B) || SKYFLOW;
  const p = launch(
    [...nodeArgs, bin, "start", "--port", String(nextPort++)],
    {
      ...KEYS,
      DATABASE_URL: url,
      SKYGEAR_APP_NAME: "bench",
      SKYFLOW_HTTP_PORT: "0",
      LOG_LEVEL: "info",
      // PEER_SKYFLOW_ENV: more settings for the daemons, as JSON (e.g. '{"SKYFLOW_MAX_RUNS":"100"}');
      // PEER_SKYFLOW_ENV_B: side B's under --only=ab, when they differ.
      ...(JSON.parse(
        process.env[`PEER_SKYFLOW_ENV${variant}`] ?? process.env.PEER_SKYFLOW_ENV ?? "{}",
      ) as Record<string, string>),
      ...extraEnv,
    },
    workflowDir(mode),
  );
  await p.waitFor('"msg":"skyflow started"');
  return p;
}

async function startWorker(mode: string, endpoint = ""): Promise<Proc> {
  const p = launch([CHILD, "worker", url, mode, endpoint], { ...KEYS });
  await p.waitFor("ready");
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Database

let db: pg.Pool;

/** Backends of the engine processes: every connection to the bench database but the bench's own. */
const engineBackends = async () =>
  (
    await db.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name NOT IN ('bench-peers', 'bench-producer')
         AND backend_type = 'client backend'`,
    )
  ).rows.map((r) => r.pid);

async function setup(): Promise<void> {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  db = createPool(url, { max: 10, applicationName: "bench-peers" });
  await migrate(db);
  await runMigrations({ connectionString: url, logger: undefined });
  await ensureAppSchema(db, APP);
  for (const t of ["task", "plain"]) {
    await db.query(createRecordTableSQL(APP, t));
    await db.query(`ALTER TABLE ${APP}.${t} ADD COLUMN title text`);
    await db.query(`CREATE INDEX ON ${APP}.${t} (title)`);
  }
  await db.query(
    `CREATE TABLE ${APP}.sink (task_id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  // A first start attaches the record trigger to the watched table, so that changes made while no engine
  // runs are kept.
  const p = await startSkyflow("sql");
  await p.stop();
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = '${APP}.task'::regclass AND NOT tgisinternal`,
  );
  if (rows[0].n !== 1) throw new Error("the record trigger is not attached to the watched table");
}

async function clean(): Promise<void> {
  await db.query("TRUNCATE skyflow.runs CASCADE");
  await db.query(`TRUNCATE skyflow.record_outbox, ${APP}.task, ${APP}.sink`);
  await db.query("DELETE FROM graphile_worker._private_jobs");
  if ((await db.query(`SELECT to_regclass('${APP}.mark') AS t`)).rows[0].t)
    await db.query(`TRUNCATE ${APP}.mark`);
  // Dead rows of the round before are vacuumed now, not by autovacuum during a round.
  await db.query(
    `VACUUM ANALYZE skyflow.runs, skyflow.record_outbox, ${APP}.task, ${APP}.sink, graphile_worker._private_jobs`,
  );
}

/** n task records; with the trigger, as many changes in the outbox (`keepChanges` false: dropped). */
async function insertTasks(n: number, prefix: string, keepChanges: boolean): Promise<void> {
  for (let i = 0; i < n; i += 5000) {
    await db.query(
      `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _updated_at, title)
       SELECT $1 || i, '', 'u1', now(), now(), $1 || i FROM generate_series($2::int, $3::int) i`,
      [`${prefix}-`, i, Math.min(n, i + 5000) - 1],
    );
  }
  if (!keepChanges) await db.query("TRUNCATE skyflow.record_outbox");
}

async function addJobs(n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i += 5000) {
    await db.query(
      `SELECT count(graphile_worker.add_job('job', json_build_object('id', $1 || i)))
       FROM generate_series($2::int, $3::int) i`,
      [`${prefix}-`, i, Math.min(n, i + 5000) - 1],
    );
  }
}

/** Polls until `remaining()` is 0; the time it took from `t0`. */
async function until(remaining: () => Promise<number>, t0: number, timeoutMs = 600_000): Promise<number> {
  for (;;) {
    if ((await remaining()) <= 0) return now() - t0;
    if (now() - t0 > timeoutMs) throw new Error("timed out waiting for the work to finish");
    await sleep(20);
  }
}

const runsLeft = (n: number, mode?: string) => {
  let polls = 0;
  return async () => {
    // A workflow whose step inserts into the sink (sql, three) is polled there on most rounds: a count over
    // every run read the whole runs table (several row versions a run) 50 times a second, about 16 times the
    // blocks of graphile-worker's count of its jobs, on the cores the engines use (pg_stat_statements: 164
    // blocks a run against 10). The runs themselves, failures included, every 25th poll and once the sink
    // is full.
    if ((mode === "sql" || mode === "three") && ++polls % 25 !== 0) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${APP}.sink`);
      if (rows[0].n < n) return n - rows[0].n;
    }
    const { rows } = await db.query(
      "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed'))::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM skyflow.runs",
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} runs failed`);
    return n - rows[0].done;
  };
};
const jobsLeft = async () =>
  (await db.query("SELECT count(*)::int AS n FROM graphile_worker._private_jobs")).rows[0].n as number;

interface Drain {
  secs: number;
  rate: number;
  rssMb: number;
  cpuMsPerRun: number;
  pgMsPerRun: number | undefined;
  /** Transactions committed on the database per run (the bench's polling included, about 50 a second). */
  xactsPerRun: number;
}

/** Transactions committed on the bench database so far (pg_stat_database, updated as backends report). */
const xacts = async () =>
  Number(
    (await db.query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")).rows[0]
      .xact_commit,
  );

/** One drain: the work is in place; starts the engine, times ready -> all finished, stops it. */
async function drain(start: () => Promise<Proc>, left: () => Promise<number>, n: number): Promise<Drain> {
  const p = await start();
  const t0 = now();
  const cpu0 = procCpuMs(p.child.pid!) ?? 0;
  const pgCpu = await new BackendCpu(engineBackends).start();
  const x0 = await xacts();
  const ms = await until(left, t0);
  const xactsPerRun = ((await xacts()) - x0) / n;
  const cpu = (procCpuMs(p.child.pid!) ?? 0) - cpu0;
  const pgMs = await pgCpu.ms();
  const rssMb = procMemMb(p.child.pid!, "VmHWM") ?? Number.NaN;
  await p.stop();
  return {
    secs: ms / 1000,
    rate: n / (ms / 1000),
    rssMb,
    cpuMsPerRun: cpu / n,
    pgMsPerRun: pgMs === undefined ? undefined : pgMs / n,
    xactsPerRun,
  };
}

const skyBacklog = async (
  mode: string,
  n: number,
  extraEnv?: Record<string, string>,
  variant: "" | "_B" = "",
) => {
  await clean();
  await insertTasks(n, `sky-${mode}`, true);
  return drain(() => startSkyflow(mode, extraEnv, variant), runsLeft(n, mode), n);
};

const gwBacklog = async (mode: string, n: number, endpoint?: string) => {
  await clean();
  // The three calls query the task record: it exists, as on skyflow's side (its changes are dropped).
  if (mode === "three") await insertTasks(n, "gw-three", false);
  await addJobs(n, mode === "three" ? "gw-three" : `gw-${mode}`);
  return drain(() => startWorker(mode, endpoint), jobsLeft, n);
};

/** Alternating rounds, the order swapped every round. */
async function alternate<A, B>(
  label: string,
  a: () => Promise<A>,
  b: () => Promise<B>,
): Promise<{ a: A[]; b: B[] }> {
  const out = { a: [] as A[], b: [] as B[] };
  for (let r = 0; r < ROUNDS; r++) {
    if (ONLY === "skyflow") {
      out.a.push(await a());
      console.log(`  ${label}: round ${r + 1}/${ROUNDS} done (skyflow only)`);
      continue;
    }
    if (r % 2 === 0) {
      out.a.push(await a());
      out.b.push(await b());
    } else {
      out.b.push(await b());
      out.a.push(await a());
    }
    console.log(`  ${label}: round ${r + 1}/${ROUNDS} done`);
  }
  return out;
}

function printDrains(label: string, sky: Drain[], gw: Drain[], rateTarget: string): void {
  if (gw.length === 0) {
    console.log(
      `${label}: skyflow ${spread(
        sky.map((s) => s.rate),
        0,
      )} runs/s, peak RSS ${spread(
        sky.map((s) => s.rssMb),
        0,
      )} MB, ` +
        `CPU per run ${f(median(sky.map((s) => s.cpuMsPerRun)), 3)} ms + Postgres ${f(median(sky.map((s) => s.pgMsPerRun ?? Number.NaN)), 3)} ms`,
    );
    return;
  }
  const rate = sky.map((s, i) => s.rate / gw[i]!.rate);
  const rss = sky.map((s, i) => s.rssMb / gw[i]!.rssMb);
  console.log(
    `${label}: skyflow ${spread(
      sky.map((s) => s.rate),
      0,
    )} runs/s, graphile-worker ${spread(
      gw.map((g) => g.rate),
      0,
    )} jobs/s -> throughput ratio ${spread(rate)}x (${rateTarget})`,
  );
  console.log(
    `  peak RSS: skyflow ${spread(
      sky.map((s) => s.rssMb),
      0,
    )} MB, graphile-worker ${spread(
      gw.map((g) => g.rssMb),
      0,
    )} MB -> ratio ${spread(rss)}x (target <= 1.0x)`,
  );
  console.log(
    `  CPU per run: skyflow process ${f(median(sky.map((s) => s.cpuMsPerRun)), 3)} ms + its Postgres backends ` +
      `${f(median(sky.map((s) => s.pgMsPerRun ?? Number.NaN)), 3)} ms; graphile-worker ` +
      `${f(median(gw.map((s) => s.cpuMsPerRun)), 3)} + ${f(median(gw.map((s) => s.pgMsPerRun ?? Number.NaN)), 3)} ms; ` +
      `transactions per run ${f(median(sky.map((s) => s.xactsPerRun)))} against ${f(median(gw.map((s) => s.xactsPerRun)))}`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Sections

async function backlog(): Promise<void> {
  console.log(`\n-- backlog: ${N} changes, then one engine (graphile-worker: ${N} jobs added while stopped)`);
  // PEER_BACKLOG=sql or =publish: that one alone.
  const only = process.env.PEER_BACKLOG;
  if (only !== "publish") {
    const sql = await alternate(
      "sql",
      () => skyBacklog("sql", N),
      () => (ONLY === "ab" ? skyBacklog("sql", N, {}, "_B") : gwBacklog("sql", N)),
    );
    printDrains("backlog, one INSERT", sql.a, sql.b, "target >= 1.0x");
  }
  if (only === "sql") return;
  const pub = await alternate(
    "publish",
    () => skyBacklog("publish", N),
    () => (ONLY === "ab" ? skyBacklog("publish", N, {}, "_B") : gwBacklog("noop", N)),
  );
  printDrains("backlog, publish step / no-op job", pub.a, pub.b, "target >= 1.3x");
}

async function producer(kind: "record" | "job", prefix: string): Promise<Map<string, number>> {
  const p = launch([CHILD, "produce", url, kind, String(LATENCY_RATE), String(LATENCY_SECS), prefix], {});
  await new Promise<void>((r) => p.child.once("exit", () => r()));
  if (p.child.exitCode !== 0) throw new Error(`producer failed:\n${p.out().slice(-2000)}`);
  return new Map(JSON.parse(p.out().trim().split("\n").pop()!) as [string, number][]);
}

/**
 * PEER_DUMP=dir: a latency round's records, each [id, acknowledgement, claim (skyflow's) or null, step's
 * statement] in epoch ms, to look at the slow ones.
 */
function dumpRound(prefix: string, records: [string, number | undefined, number | null, number][]): void {
  if (process.env.PEER_DUMP)
    writeFileSync(join(process.env.PEER_DUMP, `${prefix}.json`), JSON.stringify(records));
}

/** Latency of one engine: produce at 100/s, then acknowledged commit -> the sink row's clock_timestamp(). */
async function latencyRound(start: () => Promise<Proc>, kind: "record" | "job", prefix: string) {
  await clean();
  const p = await start();
  await sleep(2000);
  const idleMb = procMemMb(p.child.pid!, "VmRSS") ?? Number.NaN;
  // CPU of the engine's process and of its Postgres backends (not the producer's), from the first record to
  // the last one handled: what one record costs when records come one at a time.
  const pid = p.child.pid!;
  const cpu0 = procCpuMs(pid) ?? 0;
  const main0 = procCpuMs(pid, pid) ?? 0;
  const pgCpu = await new BackendCpu(engineBackends).start();
  // The round's second half apart: a fresh process spends its first seconds compiling (V8's optimizing
  // compiler runs on other threads of the process), which a long-lived one has behind it.
  let half: { cpu: number; main: number; pg: BackendCpu; epochMs: number } | undefined;
  const halfTimer = setTimeout(
    async () => {
      const cpu = procCpuMs(pid) ?? 0;
      half = {
        cpu,
        main: procCpuMs(pid, pid) ?? 0,
        pg: await new BackendCpu(engineBackends).start(),
        epochMs: performance.timeOrigin + now(),
      };
    },
    (LATENCY_SECS * 1000) / 2,
  );
  const acked = await producer(kind, prefix);
  clearTimeout(halfTimer);
  const t0 = now();
  await until(
    async () =>
      acked.size -
      (await db.query(`SELECT count(*)::int AS n FROM ${APP}.sink WHERE task_id LIKE $1`, [`${prefix}-%`]))
        .rows[0].n,
    t0,
    60_000,
  );
  const cpuEnd = procCpuMs(pid) ?? 0;
  const mainEnd = procCpuMs(pid, pid) ?? 0;
  const cpuMsPerRun = (cpuEnd - cpu0) / acked.size;
  const pgMs = await pgCpu.ms();
  const halfPgMs = await half?.pg.ms();
  await p.stop();
  const { rows } = await db.query<{ task_id: string; ms: string }>(
    `SELECT task_id, extract(epoch FROM at) * 1000 AS ms FROM ${APP}.sink WHERE task_id LIKE $1`,
    [`${prefix}-%`],
  );
  const lat = rows.map((r) => Number(r.ms) - acked.get(r.task_id)!);
  const late = half ? rows.filter((r) => acked.get(r.task_id)! >= half!.epochMs) : [];
  const lateLat = late.map((r) => Number(r.ms) - acked.get(r.task_id)!);
  const second = {
    p50: median(lateLat),
    p99: pct(lateLat, 99),
    cpuMsPerRun: half ? (cpuEnd - half.cpu) / late.length : Number.NaN,
    mainMsPerRun: half ? (mainEnd - half.main) / late.length : Number.NaN,
    pgMsPerRun: halfPgMs === undefined ? Number.NaN : halfPgMs / late.length,
  };
  // skyflow's two halves: commit acknowledged -> the trigger's claim transaction began (the run's
  // created_at), and that -> the step's statement.
  let stages: { trigger: number[]; engine: number[] } | undefined;
  if (kind === "record") {
    const r = await db.query<{ task_id: string; created: string; at: string }>(
      `SELECT s.task_id, extract(epoch FROM r.created_at) * 1000 AS created, extract(epoch FROM s.at) * 1000 AS at
       FROM ${APP}.sink s JOIN skyflow.runs r ON r.event #>> '{record,title}' = s.task_id
       WHERE s.task_id LIKE $1`,
      [`${prefix}-%`],
    );
    const trigger = r.rows.map((x) => Number(x.created) - acked.get(x.task_id)!);
    const engine = r.rows.map((x) => Number(x.at) - Number(x.created));
    stages = { trigger: [pct(trigger, 50), pct(trigger, 99)], engine: [pct(engine, 50), pct(engine, 99)] };
    dumpRound(
      prefix,
      r.rows.map((x) => [x.task_id, acked.get(x.task_id), Number(x.created), Number(x.at)]),
    );
  } else {
    // graphile-worker's: no claim time.
    dumpRound(
      prefix,
      rows.map((x) => [x.task_id, acked.get(x.task_id), null, Number(x.ms)]),
    );
  }
  return {
    stages,
    second,
    p50: median(lat),
    p99: pct(lat, 99),
    idleMb,
    cpuMsPerRun,
    mainMsPerRun: (mainEnd - main0) / acked.size,
    pgMsPerRun: pgMs === undefined ? Number.NaN : pgMs / acked.size,
  };
}

async function latency(): Promise<void> {
  console.log(
    `\n-- latency: ${LATENCY_RATE} records/s for ${LATENCY_SECS} s per round, open loop, from another process`,
  );
  let k = 0;
  const r = await alternate(
    "latency",
    () => latencyRound(() => startSkyflow("sql"), "record", `lat-sky-${k++}`),
    () =>
      ONLY === "ab"
        ? latencyRound(() => startSkyflow("sql", {}, "_B"), "record", `lat-skyb-${k++}`)
        : latencyRound(() => startWorker("sql"), "job", `lat-gw-${k++}`),
  );
  const show = (xs: { p50: number; p99: number }[], key: "p50" | "p99") =>
    spread(
      xs.map((x) => x[key]),
      2,
    );
  console.log(
    `commit -> first step's statement: skyflow p50 ${show(r.a, "p50")} ms, p99 ${show(r.a, "p99")} ms; ` +
      `graphile-worker add_job -> handler's statement p50 ${show(r.b, "p50")} ms, p99 ${show(r.b, "p99")} ms`,
  );
  if (r.b.length > 0)
    console.log(
      `  ratios: p50 ${spread(r.a.map((x, i) => x.p50 / r.b[i]!.p50))}x, p99 ${spread(
        r.a.map((x, i) => x.p99 / r.b[i]!.p99),
      )}x (targets <= 1.0x)`,
    );
  const cpu = (xs: { cpuMsPerRun: number; mainMsPerRun: number; pgMsPerRun: number }[]) =>
    `${spread(
      xs.map((x) => x.cpuMsPerRun),
      3,
    )} ms (main thread ${spread(
      xs.map((x) => x.mainMsPerRun),
      3,
    )}) + its Postgres backends ${spread(
      xs.map((x) => x.pgMsPerRun),
      3,
    )} ms`;
  console.log(
    `  CPU per record: skyflow process ${cpu(r.a)}; graphile-worker ${r.b.length > 0 ? cpu(r.b) : "-"}`,
  );
  const sec = (xs: typeof r.a) =>
    `p50 ${spread(
      xs.map((x) => x.second.p50),
      2,
    )} ms, p99 ${spread(
      xs.map((x) => x.second.p99),
      2,
    )} ms, CPU per record ${cpu(xs.map((x) => x.second))}`;
  console.log(`  second half of each round: skyflow ${sec(r.a)}`);
  if (r.b.length > 0) {
    console.log(`    graphile-worker ${sec(r.b)}`);
    // The half a long-lived process is closer to: a fresh one's first seconds go to compiling its path.
    console.log(
      `    second-half ratios: p50 ${spread(r.a.map((x, i) => x.second.p50 / r.b[i]!.second.p50))}x, p99 ${spread(
        r.a.map((x, i) => x.second.p99 / r.b[i]!.second.p99),
      )}x`,
    );
  }
  const halves = (side: typeof r.a, name: string) => {
    const stage = (k: "trigger" | "engine", i: number) =>
      spread(
        side.map((x) => x.stages![k][i]!),
        1,
      );
    console.log(
      `  ${name}'s halves: commit -> trigger's claim began p50 ${stage("trigger", 0)} ms, p99 ${stage("trigger", 1)} ms; ` +
        `claim began -> step's statement p50 ${stage("engine", 0)} ms, p99 ${stage("engine", 1)} ms`,
    );
  };
  halves(r.a, "skyflow");
  // --only=ab: side B is skyflow too (PEER_SKYFLOW_BIN_B), printed in graphile-worker's place.
  if (ONLY === "ab") halves(r.b, "skyflow B");
  console.log(
    `  idle RSS 2 s after start: skyflow ${spread(
      r.a.map((x) => x.idleMb),
      0,
    )} MB (target < 80 MB), graphile-worker ${spread(
      r.b.map((x) => x.idleMb),
      0,
    )} MB`,
  );
}

async function three(): Promise<void> {
  console.log(
    `\n-- three steps: ${THREE_N} runs of query + save + sql through \`skyflow serve\` on both sides`,
  );
  const port = nextPort++;
  const serve = launch(
    [SKYFLOW, "serve", "--port", String(port)],
    { ...KEYS, DATABASE_URL: url, SKYGEAR_APP_NAME: "bench", LOG_LEVEL: "warn" },
    workflowDir("three"),
  );
  const endpoint = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(endpoint, { method: "POST", body: "{}" }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || serve.child.exitCode !== null)
      throw new Error(`skyflow serve did not start:\n${serve.out().slice(-2000)}`);
    await sleep(100);
  }
  // The first save of a `mark` creates its table (the server's schema lock, the DDL): done here, not by the
  // first round's side.
  await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      action: "record:save",
      api_key: KEYS.SKYGEAR_MASTER_KEY,
      database_id: "_public",
      records: [{ _id: "mark/warm", task: "warm" }],
    }),
  });
  // The server's CPU per run counts too: each side's calls go through it.
  const served = (side: () => Promise<Drain>) => async () => {
    const cpu0 = procCpuMs(serve.child.pid!) ?? 0;
    const d = await side();
    return { ...d, serveMsPerRun: ((procCpuMs(serve.child.pid!) ?? 0) - cpu0) / THREE_N };
  };
  try {
    const r = await alternate(
      "three",
      served(() => skyBacklog("three", THREE_N, { SKYGEAR_ENDPOINT: endpoint })),
      served(() =>
        ONLY === "ab"
          ? skyBacklog("three", THREE_N, { SKYGEAR_ENDPOINT: endpoint }, "_B")
          : gwBacklog("three", THREE_N, endpoint),
      ),
    );
    const cpu = (xs: typeof r.a) =>
      `process ${f(median(xs.map((s) => s.cpuMsPerRun)), 3)} ms, server ${f(median(xs.map((s) => s.serveMsPerRun)), 3)} ms, ` +
      `Postgres (both) ${f(median(xs.map((s) => s.pgMsPerRun ?? Number.NaN)), 3)} ms`;
    if (r.b.length === 0) {
      printDrains("three steps", r.a, [], "");
      console.log(`  CPU per run: skyflow ${cpu(r.a)}`);
      return;
    }
    const ratio = r.a.map((s, i) => s.secs / r.b[i]!.secs);
    console.log(
      `three steps: skyflow ${spread(
        r.a.map((s) => s.rate),
        0,
      )} runs/s, graphile-worker ${spread(
        r.b.map((s) => s.rate),
        0,
      )} jobs/s -> time ratio ${spread(ratio)}x (target <= 1.3x)`,
    );
    console.log(
      `  CPU per run: skyflow ${cpu(r.a)}; ${ONLY === "ab" ? "skyflow B" : "graphile-worker"} ${cpu(r.b)}`,
    );
  } finally {
    await serve.stop();
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

async function write(): Promise<void> {
  console.log(`\n-- write cost: 32 callers, ${WRITE_MS} ms per round, no engine running`);
  await clean();
  await db.query(`TRUNCATE ${APP}.plain`);
  const app = createPool(url, { max: 10, applicationName: "bench-peers-app" });
  const handler = createSkygearHandler({
    pool: app,
    config: {
      appName: "bench",
      schema: APP,
      apiKey: KEYS.SKYGEAR_API_KEY,
      masterKey: KEYS.SKYGEAR_MASTER_KEY,
    },
    log: silentLogger(),
  });
  const container = new SkygearContainer({
    transport: createInProcessTransport(handler),
    apiKey: KEYS.SKYGEAR_MASTER_KEY,
  });
  let seq = 0;
  const insert = (table: string) => () =>
    app.query(
      `INSERT INTO ${APP}.${table} (_id, _database_id, _owner_id, _created_at, _updated_at, title)
       VALUES ($1, '', 'u1', now(), now(), 'w')`,
      [`w-${seq++}`],
    );
  const save = (type: string) => () => container.save([{ _id: `${type}/s-${seq++}`, title: "saved" }]);
  try {
    // Both tables warmed alike: the watched type's first round of saves (32 callers) ran at a quarter of the
    // later rounds' rate (221 against 884-1,008 saves/s), a one-time cost of its first use, not the trigger's.
    for (const t of ["plain", "task"]) {
      await rate(1000, insert(t));
      await rate(1000, save(t));
    }
    const saved = ROUNDS;
    const rounds = Math.max(3, saved);
    const ins = { plain: [] as number[], task: [] as number[] };
    const sav = { plain: [] as number[], task: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (["plain", "task"] as const) : (["task", "plain"] as const);
      for (const t of order) ins[t].push(await rate(WRITE_MS, insert(t)));
      for (const t of order) sav[t].push(await rate(WRITE_MS, save(t)));
    }
    const cost = (x: { plain: number[]; task: number[] }) =>
      x.task.map((t, i) => (1 - t / x.plain[i]!) * 100);
    console.log(
      `raw INSERT: unwatched ${spread(ins.plain, 0)}/s, watched ${spread(ins.task, 0)}/s -> trigger cost ${spread(
        cost(ins),
        1,
      )}% (target <= 25%)`,
    );
    console.log(
      `record:save: unwatched ${spread(sav.plain, 0)}/s, watched ${spread(sav.task, 0)}/s -> trigger cost ${spread(
        cost(sav),
        1,
      )}% (target <= 15%)`,
    );
  } finally {
    await handler.close();
    await app.end();
    await clean();
  }
}

async function scale(): Promise<void> {
  console.log(`\n-- scale-out: ${N} changes drained by one and by two \`skyflow start\` processes`);
  const two = async () => {
    await clean();
    await insertTasks(N, "two", true);
    const [a, b] = await Promise.all([startSkyflow("sql"), startSkyflow("sql")]);
    const t0 = now();
    const ms = await until(runsLeft(N, "sql"), t0);
    await Promise.all([a.stop(), b.stop()]);
    return { rate: N / (ms / 1000), ...(await duplicates()) };
  };
  const one = async () => {
    const d = await skyBacklog("sql", N);
    return { rate: d.rate, ...(await duplicates()) };
  };
  const r = await alternate("scale", one, two);
  console.log(
    `one daemon ${spread(
      r.a.map((x) => x.rate),
      0,
    )} runs/s; two daemons ${spread(
      r.b.map((x) => x.rate),
      0,
    )} runs/s -> ratio ${spread(r.b.map((x, i) => x.rate / r.a[i]!.rate))}x`,
  );
  const dup = [...r.a, ...r.b];
  console.log(
    `  duplicates: ${dup.reduce((s, x) => s + x.runDups, 0)} runs started twice, ` +
      `${dup.reduce((s, x) => s + x.rowDups, 0)} INSERTs made twice, over ${dup.length} drains of ${N}`,
  );
}

async function duplicates(): Promise<{ runDups: number; rowDups: number }> {
  const runs = await db.query(
    "SELECT (count(*) - count(DISTINCT event->'record'->>'title'))::int AS n FROM skyflow.runs",
  );
  const rows = await db.query(`SELECT (count(*) - count(DISTINCT task_id))::int AS n FROM ${APP}.sink`);
  return { runDups: runs.rows[0].n, rowDups: rows.rows[0].n };
}

async function main(): Promise<void> {
  if (!existsSync(`${ROOT}dist/cli.js`))
    throw new Error("dist/ is missing: run `npm run build` (npm run bench:peers does)");
  console.log(
    `peers: skyflow (dist/, \`skyflow start\`) against graphile-worker 0.16.6 (concurrency ${process.env.PEER_CONCURRENCY ?? 10}), ` +
      `${ROUNDS} alternating rounds; sections ${SECTIONS.join(", ")}`,
  );
  await setup();
  try {
    for (const s of SECTIONS) {
      if (s === "backlog") await backlog();
      else if (s === "latency") await latency();
      else if (s === "three") await three();
      else if (s === "write") await write();
      else if (s === "scale") await scale();
      else throw new Error(`unknown section ${s}; there are ${ALL.join(", ")}`);
    }
  } finally {
    await db.end();
    for (const d of dirs.values()) rmSync(d, { recursive: true, force: true });
  }
}

await main();
