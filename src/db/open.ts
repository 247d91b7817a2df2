// "Open the database" for the long-running commands (serve, dev, start) and the CLI readers: DATABASE_URL,
// else the embedded Postgres under the state directory; one pool; skyflow's migrations applied.
import type pg from "pg";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded.js";
import { migrate } from "./migrate.js";
import { createPool } from "./pool.js";

export interface OpenDatabase {
  pool: pg.Pool;
  /** The connection URL (it may hold a password: never log it). */
  url: string;
  /** true when this process started the embedded Postgres. */
  embedded: boolean;
  /** Ends the pool, then stops the embedded Postgres if this process started it. Safe to call twice. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Pool size (default 10). */
  max?: number;
  applicationName?: string;
  /** Skip migrations (read-only tools on a database another process migrates). */
  migrate?: boolean;
}

export async function openDatabase(
  config: Pick<Config, "databaseUrl" | "stateDir">,
  log: Logger,
  opts: OpenOptions = {},
): Promise<OpenDatabase> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (!url) {
    log.info({ dir: config.stateDir }, "starting the embedded Postgres");
    embedded = await startEmbeddedPostgres({
      dir: config.stateDir,
      onLog: (line) => log.debug({ pg: line }),
    });
    url = embedded.url;
  }
  const pool = createPool(url, { max: opts.max ?? 10, applicationName: opts.applicationName });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await pool.end().catch(() => {});
      await embedded?.stop();
    })();
    return closing;
  };
  try {
    if (opts.migrate !== false) {
      const applied = await migrate(pool);
      if (applied.length > 0) log.info({ applied }, "migrations applied");
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { pool, url, embedded: embedded !== undefined, close };
}
