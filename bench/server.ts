// Round trips per second of the Skygear-compatible server through our container, over HTTP (server in this
// process, as under `skyflow dev`) and in-process, next to the server's trivial endpoints in the same run.
// Targets: query by id over HTTP >= 0.5x the trivial endpoint; in-process >= 3x HTTP.
// Run: [DATABASE_URL=postgres://...] npx tsx bench/server.ts [rounds]   (else an embedded Postgres)
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { appSchemaName } from "../src/config.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../src/db/embedded.js";
import { createPool } from "../src/db/pool.js";
import { silentLogger } from "../src/log.js";
import { startSkygearServer } from "../src/server/http.js";
import { createSkygearHandler } from "../src/server/index.js";
import { SkygearContainer } from "../src/skygear/container.js";
import { createHttpTransport } from "../src/skygear/transport-http.js";
import { createInProcessTransport } from "../src/skygear/transport-inprocess.js";
import { median } from "./lib.js";

const ROUNDS = Number(process.argv[2] ?? 3);
const CALLERS = 32;
const SEEDED = 2000;
const MASTER = "bench-master-key";
const kp = (field: string) => ({ $type: "keypath", $val: field });

type Op = (c: SkygearContainer, i: number) => Promise<unknown>;
const keys: string[] = [];
const OPS: [name: string, calls: number, op: Op][] = [
  ["trivial (POST / home)", 20_000, (c) => c.sendAction("")],
  ["_status:healthz (SELECT 1)", 10_000, (c) => c.sendAction("_status:healthz")],
  [
    "record:query by id",
    8_000,
    (c, i) => c.query({ recordType: "item", predicate: ["eq", kp("_id"), keys[i % keys.length]], limit: 1 }),
  ],
  ["record:save (insert)", 4_000, (c, i) => c.save([{ _id: `item/${randomUUID()}`, n: i, title: "bench" }])],
];

/** `calls` calls from 32 callers: calls per second and this process's CPU µs per call (client + server). */
async function measure(
  call: (i: number) => Promise<unknown>,
  calls: number,
): Promise<{ rate: number; cpuUs: number }> {
  let next = 0;
  const worker = async () => {
    while (next < calls) await call(next++);
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CALLERS }, worker));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { rate: calls / (ms / 1000), cpuUs: (cpu.user + cpu.system) / calls };
}

async function database(): Promise<{ url: string; embedded?: EmbeddedPostgres }> {
  const url = process.env.DATABASE_URL;
  if (url) return { url };
  const embedded = await startEmbeddedPostgres({ dir: ".skyflow-bench" });
  return { url: embedded.url, embedded };
}

async function main(): Promise<void> {
  const { url: baseUrl, embedded } = await database();
  const name = `skyflow_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const dbUrl = new URL(baseUrl);
  dbUrl.pathname = `/${name}`;
  const pool = createPool(dbUrl.toString(), { max: 10 });
  const config = {
    appName: "bench",
    schema: appSchemaName("bench"),
    apiKey: "bench-api-key",
    masterKey: MASTER,
  };
  const handler = createSkygearHandler({ pool, config, log: silentLogger() });
  await handler.ready();
  const server = await startSkygearServer({ handler, port: 0 });
  const http = new SkygearContainer({
    transport: createHttpTransport({ endpoint: server.url }),
    apiKey: MASTER,
  });
  const inproc = new SkygearContainer({ transport: createInProcessTransport(handler), apiKey: MASTER });
  try {
    await run(http.asUser("bench-user"), inproc.asUser("bench-user"), pool, config.schema);
  } finally {
    await http.close();
    await server.close();
    await handler.close();
    await pool.end();
    await admin.query(`DROP DATABASE ${name}`);
    await admin.end();
    await embedded?.stop();
  }
}

async function run(
  http: SkygearContainer,
  inproc: SkygearContainer,
  pool: pg.Pool,
  schema: string,
): Promise<void> {
  for (let i = 0; i < SEEDED; i += 100) {
    const batch = Array.from({ length: 100 }, (_, j) => ({
      _id: `item/${randomUUID()}`,
      n: i + j,
      title: "seed",
    }));
    await inproc.save(batch);
    keys.push(...batch.map((r) => r._id.slice(5)));
  }
  const check = await http.query({ recordType: "item", predicate: ["eq", kp("_id"), keys[0]], limit: 1 });
  if (check.records.length !== 1) throw new Error("query by id did not find the seeded record");
  const results = new Map<string, { rate: number[]; cpu: number[] }>();
  // The database alone, through the same pool of 10: what a query by id cannot beat.
  const { rows } = await pool.query(`SELECT _database_id FROM "${schema}".item LIMIT 1`);
  const dbId = rows[0]._database_id as string;
  const byId = `SELECT to_jsonb(t) AS r FROM "${schema}".item t WHERE t._database_id = $1 AND t._id = $2 LIMIT 1`;
  if ((await pool.query(byId, [dbId, keys[0]])).rowCount !== 1)
    throw new Error("the by-id SELECT found nothing");
  const direct: [string, (i: number) => Promise<unknown>][] = [
    ["pg: SELECT 1", () => pool.query("SELECT 1")],
    ["pg: the by-id SELECT", (i) => pool.query(byId, [dbId, keys[i % keys.length]])],
  ];
  const targets = [
    ["http", http],
    ["in-process", inproc],
  ] as const;
  // Warm-up: JIT, sockets and the pg pool, a tenth of each measured run.
  for (const [, calls, op] of OPS) for (const [, c] of targets) await measure((i) => op(c, i), calls / 10);
  const add = (key: string, r: { rate: number; cpuUs: number }) => {
    if (!results.has(key)) results.set(key, { rate: [], cpu: [] });
    results.get(key)!.rate.push(r.rate);
    results.get(key)!.cpu.push(r.cpuUs);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [opName, calls, op] of OPS) {
      for (const [t, c] of targets) add(`${opName}|${t}`, await measure((i) => op(c, i), calls));
    }
    for (const [name, call] of direct) add(`${name}|pg`, await measure(call, 8_000));
  }
  report(results);
}

function report(results: Map<string, { rate: number[]; cpu: number[] }>): void {
  const rate = (op: string, t: string) => median(results.get(`${op}|${t}`)!.rate);
  const cpu = (op: string, t: string) => median(results.get(`${op}|${t}`)!.cpu);
  console.log(
    `round trips/s, ${CALLERS} callers, median of ${ROUNDS} rounds (CPU = this process, client + server)`,
  );
  console.log(
    `  ${"operation".padEnd(30)} ${"HTTP/s".padStart(8)} ${"µs CPU".padStart(7)} ${"in-proc/s".padStart(10)} ${"µs CPU".padStart(7)}  in-proc/HTTP`,
  );
  for (const [op] of OPS) {
    const h = rate(op, "http");
    const p = rate(op, "in-process");
    console.log(
      `  ${op.padEnd(30)} ${h.toFixed(0).padStart(8)} ${cpu(op, "http").toFixed(0).padStart(7)} ${p.toFixed(0).padStart(10)} ${cpu(op, "in-process").toFixed(0).padStart(7)}  ${(p / h).toFixed(2)}x`,
    );
  }
  for (const name of ["pg: SELECT 1", "pg: the by-id SELECT"]) {
    console.log(
      `  ${name.padEnd(30)} ${rate(name, "pg").toFixed(0).padStart(8)} ${cpu(name, "pg").toFixed(0).padStart(7)}  (pool of 10, no server)`,
    );
  }
  const q = "record:query by id";
  const t = "trivial (POST / home)";
  const hz = "_status:healthz (SELECT 1)";
  console.log(
    `  query by id / trivial, HTTP: ${(rate(q, "http") / rate(t, "http")).toFixed(2)}x (target >= 0.5x)`,
  );
  console.log(`  query by id / healthz, HTTP: ${(rate(q, "http") / rate(hz, "http")).toFixed(2)}x`);
  console.log(
    `  query by id, in-process / HTTP: ${(rate(q, "in-process") / rate(q, "http")).toFixed(2)}x (target >= 3x)`,
  );
}

await main();
