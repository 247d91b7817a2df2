// Paused workflows (table skyflow.workflow_state): set by `skyflow pause` / `resume`, polled by running
// daemons into the catalog so that triggers stop or resume starting runs without a restart.
import type pg from "pg";
import type { Logger } from "../log.js";
import type { LiveCatalog } from "./catalog.js";

export async function setPaused(pool: pg.Pool, workflow: string, paused: boolean): Promise<void> {
  await pool.query(
    `INSERT INTO skyflow.workflow_state (workflow, paused) VALUES ($1, $2)
     ON CONFLICT (workflow) DO UPDATE SET paused = EXCLUDED.paused, changed_at = now()`,
    [workflow, paused],
  );
}

export async function pausedWorkflows(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ workflow: string }>(
    "SELECT workflow FROM skyflow.workflow_state WHERE paused ORDER BY workflow",
  );
  return rows.map((r) => r.workflow);
}

export interface PauseWatcher {
  /** Reads the table now (also done every interval). */
  refresh(): Promise<void>;
  stop(): void;
}

/** Polls the paused set into the catalog; one cheap query per interval (default 1 s). */
export async function watchPaused(opts: {
  pool: pg.Pool;
  catalog: LiveCatalog;
  log: Logger;
  intervalMs?: number;
}): Promise<PauseWatcher> {
  let last = "";
  const refresh = async () => {
    const names = await pausedWorkflows(opts.pool);
    const key = names.join("\n");
    if (key !== last) {
      if (names.length) opts.log.info({ paused: names }, `paused workflows: ${names.join(", ")}`);
      else if (last) opts.log.info("no workflow is paused");
      last = key;
    }
    opts.catalog.setPaused(names);
  };
  await refresh();
  const timer = setInterval(() => {
    refresh().catch((err) => opts.log.warn({ err }, "could not read paused workflows"));
  }, opts.intervalMs ?? 1000);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
