// The database for the inspection commands (runs, workflows, pause, resume). With DATABASE_URL it is that
// server. Without it, a running `skyflow dev` owns the embedded Postgres: connect to it rather than starting
// a second one (which would stop the running server as an orphan); start it only when nothing runs.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import type { Config } from "../config.js";
import { openDatabase } from "../db/open.js";
import { createPool } from "../db/pool.js";
import type { Logger } from "../log.js";

export interface InspectDatabase {
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function openForInspection(config: Config, log: Logger): Promise<InspectDatabase> {
  if (!config.databaseUrl) {
    const url = await runningEmbeddedUrl(config.stateDir);
    if (url) {
      const pool = createPool(url, { max: 2, applicationName: "skyflow-cli" });
      return { pool, close: () => pool.end() };
    }
  }
  const db = await openDatabase(config, log, { max: 2, applicationName: "skyflow-cli" });
  return { pool: db.pool, close: db.close };
}

async function runningEmbeddedUrl(stateDir: string): Promise<string | undefined> {
  try {
    const pidText = await readFile(join(stateDir, "pg", "postmaster.pid"), "utf8");
    const pid = Number.parseInt(pidText.split("\n")[0] ?? "", 10);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    const state = JSON.parse(await readFile(join(stateDir, "pg.json"), "utf8")) as {
      port: number;
      password: string;
    };
    return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/skyflow`;
  } catch {
    return undefined;
  }
}
