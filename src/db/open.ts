// "Open the database" for the long-running commands (serve, dev, start) and the CLI readers: DATABASE_URL,
// else the embedded Postgres under the state directory; one pool; skyflow's migrations applied.
import type pg from "pg";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { EmbeddedPostgres } from "./embedded.js";
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
  /**
   * Embedded Postgres only: starts it again on the same port when no server runs on its data (stopped
   * under this process); says what it did, or undefined when a server was running after all.
   */
  restartEmbedded?: () => Promise<string | undefined>;
}

export interface OpenOptions {
  /** Pool size (default 10). */
  max?: number;
  applicationName?: string;
  /** Connections kept open while idle (PoolOptions.min). */
  min?: number;
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
  // The embedded Postgres's modules are loaded only when it is used: not with DATABASE_URL.
  const start = async (samePort: boolean) => {
    const { startEmbeddedPostgres } = await import("./embedded.js");
    return startEmbeddedPostgres({
      dir: config.stateDir,
      onLog: (line) => log.debug({ pg: line }),
      samePort,
    });
  };
  if (!url) {
    log.info({ dir: config.stateDir }, "opening the embedded Postgres");
    embedded = await start(false);
    if (embedded.attachedTo !== undefined) {
      log.info(
        { dir: config.stateDir },
        `using the embedded Postgres of the skyflow running in this directory (pid ${embedded.attachedTo}); it keeps running when this process ends`,
      );
    }
    url = embedded.url;
  }
  const pool = createPool(url, {
    max: opts.max ?? 10,
    applicationName: opts.applicationName,
    ...(opts.min === undefined ? {} : { min: opts.min }),
  });
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
    } else {
      await pool.query("SELECT 1");
    }
  } catch (err) {
    await close();
    const from = config.databaseUrl ? "DATABASE_URL" : "the embedded Postgres";
    throw new Error(`cannot use the database ${describeDatabase(url)} (${from}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  const restartEmbedded = async () => {
    const again = await start(true);
    // A server runs there after all (starting up, or another skyflow's): nothing was done.
    if (again.attachedTo !== undefined) return undefined;
    // This process's server now, which close() stops.
    embedded = again;
    return "started it again";
  };
  return {
    pool,
    url,
    embedded: embedded !== undefined,
    close,
    ...(embedded && { restartEmbedded }),
  };
}

/** `user@host:port/database` of a connection URL: where it points, without its password. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : "";
    return `${user}${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}
