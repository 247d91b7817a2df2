// The real Skygear server v1.7.3 for the compatibility tests: started from ../shared/skygear-real (its start
// script, unchanged) on a free loopback port, against a database of its own on the test Postgres, and stopped
// after. When it cannot start (no start script, no PostGIS, a foreign OS) `startRealServer` answers with the
// reason instead, and the compat tests are skipped with that reason printed loudly; with
// SKYFLOW_COMPAT_REQUIRED=1 (CI's first pass) they fail instead.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export interface RealServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  pid: number;
  /** Its database (the app's tables in schema app_<appName>). */
  databaseUrl: string;
  /** The server's log file (LOG_LEVEL=debug shows every request). */
  logFile: string;
  stop(): Promise<void>;
}

export interface RealServerOptions {
  /** Base URL of the Postgres server (a database of its own is created on it and dropped by `stop`). */
  databaseUrl: string;
  /** Names the database, so a leftover one tells which test file made it. */
  label: string;
  apiKey: string;
  masterKey: string;
  appName: string;
}

export type RealServerStart = { ok: true; server: RealServer } | { ok: false; reason: string };

const HERE = dirname(fileURLToPath(import.meta.url));

/** Where the real server's start script lives: SKYGEAR_REAL_HOME when set (only there), else
 * ../shared/skygear-real beside the checkout (or beside the worktrees' parent), else /work/shared/skygear-real. */
export function realServerHome(): string | undefined {
  const only = process.env.SKYGEAR_REAL_HOME;
  if (only) return existsSync(join(only, "start.sh")) ? only : undefined;
  const candidates = [
    resolve(HERE, "../../../shared/skygear-real"),
    resolve(HERE, "../../../../shared/skygear-real"),
    "/work/shared/skygear-real",
  ];
  return candidates.find((c) => c && existsSync(join(c, "start.sh")));
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => ok(port));
    });
  });
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function runStart(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((ok) => {
    const child = spawn("bash", [script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", (e) => ok({ code: -1, out, err: `${err}${e.message}` }));
    child.on("close", (code) => ok({ code, out, err }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startRealServer(opts: RealServerOptions): Promise<RealServerStart> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    return {
      ok: false,
      reason: `the real server is a Linux x86-64 binary (this is ${process.platform}/${process.arch})`,
    };
  }
  const home = realServerHome();
  if (!home) {
    return { ok: false, reason: "no skygear-real/start.sh (set SKYGEAR_REAL_HOME to its directory)" };
  }
  const hasPostgis = await admin(opts.databaseUrl, async (c) => {
    const r = await c.query("SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'postgis'");
    return r.rows[0].n > 0;
  }).catch((e: Error) => e);
  if (hasPostgis instanceof Error)
    return { ok: false, reason: `cannot reach Postgres: ${hasPostgis.message}` };
  if (!hasPostgis) {
    return {
      ok: false,
      reason:
        "this Postgres has no PostGIS, which the real server's migrations need (Debian, Postgres 15: apt-get install -y postgresql-15-postgis-3)",
    };
  }
  const db = `skygear_real_${opts.label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${process.pid}`;
  await admin(opts.databaseUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${db}`);
  });
  const dropDb = () =>
    admin(opts.databaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)).catch(
      () => undefined,
    );
  // A directory of its own: start.sh unpacks the binary there, and two test files may start at once.
  const dir = await mkdtemp(join(tmpdir(), "skygear-real-"));
  const port = await freePort();
  const res = await runStart(join(home, "start.sh"), {
    PATH: process.env.PATH,
    TMPDIR: tmpdir(),
    SKYGEAR_REAL_DIR: dir,
    PORT: String(port),
    DATABASE_URL: withDatabase(opts.databaseUrl, db),
    API_KEY: opts.apiKey,
    MASTER_KEY: opts.masterKey,
    APP_NAME: opts.appName,
    LOG_LEVEL: process.env.SKYGEAR_REAL_LOG_LEVEL ?? "info",
  });
  const pid = Number(res.out.trim());
  if (res.code !== 0 || !Number.isInteger(pid) || pid <= 0) {
    await dropDb();
    await rm(dir, { recursive: true, force: true });
    const why = res.err.trim().split("\n").slice(-5).join(" | ") || `exit code ${res.code}`;
    return { ok: false, reason: `its start script failed: ${why}` };
  }
  const server: RealServer = {
    url: `http://127.0.0.1:${port}/`,
    port,
    pid,
    databaseUrl: withDatabase(opts.databaseUrl, db),
    logFile: join(dir, `run-${port}`, "server.log"),
    async stop() {
      if (alive(pid)) {
        process.kill(pid, "SIGTERM");
        const deadline = Date.now() + 10_000;
        while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (alive(pid)) process.kill(pid, "SIGKILL");
      }
      await dropDb();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return { ok: true, server };
}

/** Prints why the compat tests cannot run, loudly; throws instead under SKYFLOW_COMPAT_REQUIRED=1. */
export function reportUnavailable(file: string, reason: string): void {
  const msg = `\n*** COMPAT TESTS SKIPPED (${file}): the real Skygear v1.7.3 server cannot start: ${reason} ***\n`;
  if (process.env.SKYFLOW_COMPAT_REQUIRED === "1") {
    throw new Error(`SKYFLOW_COMPAT_REQUIRED=1 but ${msg.trim()}`);
  }
  console.warn(msg);
}
