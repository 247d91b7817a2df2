// The other processes of bench/peers.ts, in plain JavaScript (no TypeScript loader in their memory):
//   node bench/peer-child.mjs worker <db url> <sql|noop|three> [skygear endpoint]
//     graphile-worker 0.16.6 with one task, `job`, doing what the skyflow workflow of that mode does; prints
//     "ready" once run() has resolved, and stops on SIGTERM.
//   node bench/peer-child.mjs produce <db url> <record|job> <per second> <seconds> <prefix>
//     inserts one task record (record) or adds one graphile-worker job (job) every 1/rate s, open loop
//     (each on its own schedule, not after the previous answer), and prints one JSON line:
//     [[id, epoch ms at which the commit was acknowledged], ...].
import { performance } from "node:perf_hooks";
import { run } from "graphile-worker";
import pg from "pg";

const [, , role, url, mode, ...rest] = process.argv;
const APP = "app_bench";
const epochMs = () => performance.timeOrigin + performance.now();
const INSERT = `INSERT INTO ${APP}.sink (task_id) VALUES ($1)`;

async function worker() {
  let container;
  if (mode === "three") {
    const { createContainer } = await import("../dist/skygear/container.js");
    container = createContainer({
      endpoint: rest[0],
      apiKey: process.env.SKYGEAR_API_KEY,
      masterKey: process.env.SKYGEAR_MASTER_KEY,
    });
  }
  const job = {
    sql: async (p, h) => {
      await h.query(INSERT, [p.id]);
    },
    noop: async () => {},
    // The three calls of the skyflow workflow `three`: a query through the Skygear server, a save as master
    // through it, and the INSERT.
    three: async (p, h) => {
      await container.query({
        recordType: "task",
        predicate: ["eq", { $type: "keypath", $val: "title" }, p.id],
        limit: 1,
      });
      await container.asMaster().save([{ _id: `mark/${p.id}`, task: p.id }]);
      await h.query(INSERT, [p.id]);
    },
  }[mode];
  if (!job) throw new Error(`unknown mode ${mode}`);
  const runner = await run({
    connectionString: url,
    concurrency: Number(process.env.PEER_CONCURRENCY ?? 10),
    maxPoolSize: Number(process.env.PEER_POOL ?? 10),
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: { job },
    logger: undefined,
  });
  console.log("ready");
  const stop = async () => {
    await runner.stop();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  await runner.promise;
}

async function produce() {
  const [perSecond, seconds, prefix] = [Number(rest[0]), Number(rest[1]), rest[2]];
  // Named, so that the bench counts its backends' CPU apart from the engine's. Its connections stay open
  // while idle (an application's writers are long-lived): with pg-pool's 10-s idle timeout, the seven that
  // 100 inserts a second leave idle closed together at the end of a 10-s round, and their backends' exits
  // (12 to 23 ms of CPU each, perf sched) delayed the round's last records on both sides.
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    idleTimeoutMillis: 0,
    application_name: "bench-producer",
  });
  const text =
    mode === "record"
      ? `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _updated_at, title)
         VALUES ($1, '', 'u1', now(), now(), $1)`
      : `SELECT graphile_worker.add_job('job', json_build_object('id', $1::text))`;
  // Each connection makes the round's statement once, rolled back (no record, no job, no NOTIFY sent), as an
  // application's warm connections would have: a backend's first one compiles the trigger's function
  // (record_change, or add_job) and fills its caches, 10 to 30 ms of CPU that took the cores from the engine
  // under test during the round's first records.
  const clients = await Promise.all(Array.from({ length: 8 }, () => pool.connect()));
  for (const c of clients) {
    await c.query("BEGIN");
    await c.query(text, [`${prefix}-warm`]);
    await c.query("ROLLBACK");
  }
  for (const c of clients) c.release();
  await new Promise((r) => setTimeout(r, 200));
  const out = [];
  const pending = [];
  const n = Math.round(perSecond * seconds);
  const t0 = performance.now() + 50;
  for (let i = 0; i < n; i++) {
    const at = t0 + (i * 1000) / perSecond;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `${prefix}-${i}`;
    pending.push(pool.query(text, [id]).then(() => out.push([id, epochMs()])));
  }
  await Promise.all(pending);
  await pool.end();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (role === "worker") await worker();
else if (role === "produce") await produce();
else throw new Error(`unknown role ${role}`);
