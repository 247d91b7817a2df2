// The database for the CLI's short-lived commands (runs, workflows, pause, resume, pushes, trigger): with
// DATABASE_URL that server; without it the embedded Postgres, shared with a `skyflow dev` running in the same
// directory (never stopped under it), or started for the command and stopped after it when none runs.
import type pg from "pg";
import type { Config } from "../config.js";
import { openDatabase } from "../db/open.js";
import type { Logger } from "../log.js";

export interface InspectDatabase {
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function openForInspection(config: Config, log: Logger): Promise<InspectDatabase> {
  const db = await openDatabase(config, log, { max: 2, applicationName: "skyflow-cli" });
  return { pool: db.pool, close: db.close };
}
