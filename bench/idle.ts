// Idle resident memory of `skyflow start` as bench/peers.ts starts it (the one-step `sql` workflow on a
// watched table, DATABASE_URL given, JSON logs): VmRSS 2 s after "skyflow started", alternating this build
// with another (IDLE_BIN_B=<other build>/bin/skyflow.js; IDLE_NODE_ARGS / IDLE_NODE_ARGS_B: node flags of
// each side). Uses the database bench/peers.ts left (PEER_DB), setting it up when it is not there.
// Use: DATABASE_URL=... PEER_DB=... node --import tsx bench/idle.ts --rounds=6 [--after-ms=2000]
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrate } from "../src/db/migrate.js";
import { createRecordTableSQL, ensureAppSchema } from "../src/server/app-schema.js";
import { median, procMemMb } from "./lib.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const opt = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const ROUNDS = opt("rounds", 6);
const AFTER_MS = opt("after-ms", 2000);
const APP = "app_bench";
const DB = process.env.PEER_DB ?? "skyflow_bench";
const base = process.env.DATABASE_URL;
if (!base) throw new Error("set DATABASE_URL");
const u = new URL(base);
u.pathname = `/${DB}`;
const url = u.toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), "skyflow-idle-"));
mkdirSync(join(dir, "workflows"));
writeFileSync(
  join(dir, "workflows", "on-task-sql.yaml"),
  `on:\n  record: {type: task, events: [create]}\nsteps:\n  - id: log\n    sql:\n      statement: INSERT INTO sink (task_id) VALUES ($1)\n      params: ["\${{ event.record.title }}"]\n`,
);

let port = 30_000 + Math.floor(Math.random() * 20_000);
async function idle(bin: string, nodeArgs: string[]): Promise<number> {
  const child = spawn(process.execPath, [...nodeArgs, bin, "start", "--port", String(port++)], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      SKYGEAR_API_KEY: "bench-peers-api-key",
      SKYGEAR_MASTER_KEY: "bench-peers-master-key",
      DATABASE_URL: url,
      SKYGEAR_APP_NAME: "bench",
      SKYFLOW_HTTP_PORT: "0",
      LOG_LEVEL: "info",
      ...(process.env.IDLE_ENV ? (JSON.parse(process.env.IDLE_ENV) as Record<string, string>) : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const end = Date.now() + 60_000;
  while (!out.includes('"msg":"skyflow started"')) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`no start:\n${out.slice(-3000)}`);
    await sleep(5);
  }
  await sleep(AFTER_MS);
  const mb = procMemMb(child.pid!, "VmRSS") ?? Number.NaN;
  if (process.env.IDLE_PROBE) {
    child.kill("SIGUSR2");
    await sleep(Number(process.env.IDLE_PROBE_MS ?? 1500));
  }
  child.kill("SIGTERM");
  await exited;
  return mb;
}

async function setupIfMissing(): Promise<void> {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const have = (await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DB])).rowCount;
  if (!have) await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  if (have) return;
  const db = new pg.Pool({ connectionString: url });
  await migrate(db as never);
  await ensureAppSchema(db as never, APP);
  await db.query(createRecordTableSQL(APP, "task"));
  await db.query(`ALTER TABLE ${APP}.task ADD COLUMN title text`);
  await db.query(
    `CREATE TABLE ${APP}.sink (task_id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  await db.end();
}

await setupIfMissing();
const A = {
  bin: process.env.IDLE_BIN_A || `${ROOT}bin/skyflow.js`,
  args: (process.env.IDLE_NODE_ARGS ?? "").split(" ").filter(Boolean),
};
const B =
  process.env.IDLE_BIN_B || process.env.IDLE_NODE_ARGS_B
    ? {
        bin: process.env.IDLE_BIN_B || A.bin,
        args: (process.env.IDLE_NODE_ARGS_B ?? "").split(" ").filter(Boolean),
      }
    : undefined;
const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (!B) a.push(await idle(A.bin, A.args));
  else if (r % 2 === 0) {
    a.push(await idle(A.bin, A.args));
    b.push(await idle(B.bin, B.args));
  } else {
    b.push(await idle(B.bin, B.args));
    a.push(await idle(A.bin, A.args));
  }
}
const s = (xs: number[]) =>
  `${median(xs).toFixed(1)} (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n ${xs.length})`;
console.log(`idle RSS ${AFTER_MS} ms after start: A ${s(a)} MB  [${a.map((x) => x.toFixed(1)).join(" ")}]`);
if (B) console.log(`                         B ${s(b)} MB  [${b.map((x) => x.toFixed(1)).join(" ")}]`);
