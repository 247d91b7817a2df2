// Paused workflows (table skyflow.workflow_state): set by `skyflow pause` / `resume`, polled by running
// daemons into the catalog so that triggers stop or resume starting runs without a restart.
import type { Queryable } from "../db/pool.js";
import type { Logger } from "../log.js";
import type { LiveCatalog } from "./catalog.js";

export async function setPaused(db: Queryable, workflow: string, paused: boolean): Promise<void> {
  await db.query(
    `INSERT INTO skyflow.workflow_state (workflow, paused) VALUES ($1, $2)
     ON CONFLICT (workflow) DO UPDATE SET paused = EXCLUDED.paused, changed_at = now()`,
    [workflow, paused],
  );
}

export async function pausedWorkflows(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ workflow: string }>(
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
  db: Queryable;
  catalog: LiveCatalog;
  log: Logger;
  intervalMs?: number;
}): Promise<PauseWatcher> {
  let last = "";
  const refresh = async () => {
    const names = await pausedWorkflows(opts.db);
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
