// The daemon's watch on its database. When the database stops answering, one error line says so (where it
// is, why, that everything waits for it); the connection errors of the parts waiting on it are counted
// instead of logged; when it answers again one line says so. An embedded Postgres that was stopped under
// the daemon (by hand, or by another program) is started again.
import type pg from "pg";
import { type Clock, systemClock } from "../engine/clock.js";
import type { Logger } from "../log.js";

/** Errors that mean "the database is not reachable", as node, pg and Postgres word them. */
const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|terminating connection|database system is (shutting down|starting up|not yet accepting)|not queryable|timeout expired|Query read timeout|57P0[123]/;

/** Shared by the watch (which sets it) and the daemon's logger (which asks it what to leave out). */
export class DatabaseOutage {
  down = false;
  /** Lines left out during the current outage. */
  muted = 0;

  /** For the logger: true for a warning or error about the lost connection while the outage is known. */
  mute(args: unknown[]): boolean {
    if (!this.down) return false;
    const [first, second] = args;
    const obj = first && typeof first === "object" ? (first as { err?: unknown }) : undefined;
    const err = obj?.err;
    const text = [
      err instanceof Error ? `${err.message} ${(err as { code?: string }).code ?? ""}` : String(err ?? ""),
      typeof first === "string" ? first : "",
      typeof second === "string" ? second : "",
    ].join(" ");
    if (!CONNECTION_ERROR.test(text)) return false;
    this.muted++;
    return true;
  }
}

export interface WatchOptions {
  pool: pg.Pool;
  log: Logger;
  outage: DatabaseOutage;
  /** Where the database is, for the messages (never with its password). */
  where: string;
  /** For the embedded Postgres: starts it again when no server runs on its data; says what it did. */
  restart?: () => Promise<string | undefined>;
  intervalMs?: number;
  clock?: Clock;
}

export interface DatabaseWatch {
  stop(): Promise<void>;
}

export function watchDatabase(o: WatchOptions): DatabaseWatch {
  const clock = o.clock ?? systemClock;
  const every = o.intervalMs ?? 1000;
  let since = 0;
  let restartFailed = false;
  let stopped = false;
  let timer: unknown;
  let current: Promise<void> = Promise.resolve();

  const check = async () => {
    try {
      await o.pool.query({ text: "SELECT 1", query_timeout: Math.max(every, 5000) } as pg.QueryConfig);
      if (o.outage.down) {
        const secs = ((clock.now() - since) / 1000).toFixed(1);
        const muted = o.outage.muted
          ? `; ${o.outage.muted} connection errors of waiting parts were not logged`
          : "";
        o.outage.down = false;
        o.outage.muted = 0;
        o.log.info({ url: o.where }, `the database ${o.where} answers again after ${secs} s${muted}`);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!o.outage.down) {
        restartFailed = false;
        since = clock.now();
        // Logged before the outage is marked, which would leave this line out with the others.
        o.log.error(
          { url: o.where, err: message },
          `the database ${o.where} does not answer (${message}); runs, triggers and the Skygear server wait for it, and it is tried again every ${every / 1000} s`,
        );
        o.outage.down = true;
      }
      if (o.restart && !stopped) await restart(message);
    }
  };

  const restart = async (why: string) => {
    try {
      const did = await o.restart?.();
      if (did) o.log.warn({ url: o.where, was: why }, `the embedded Postgres had stopped; ${did}`);
    } catch (err) {
      // Said once per outage; the next checks try again quietly.
      if (restartFailed) return;
      restartFailed = true;
      // Not under `err`: the logger would take it for one of the waiting parts' connection errors.
      o.log.error(
        { reason: String(err) },
        `the embedded Postgres is not running and starting it again failed (${String(err)}); trying again every ${every / 1000} s`,
      );
    }
  };

  const loop = () => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      current = check().finally(loop);
    }, every);
  };
  loop();
  return {
    async stop() {
      stopped = true;
      clock.clearTimeout(timer);
      await current.catch(() => {});
    },
  };
}
