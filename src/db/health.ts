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
  /** A connection error was logged and the watch is checking the database at once. */
  checking = false;
  /** Lines left out since the first connection error of the current outage. */
  muted = 0;
  /** Set by the watch: check the database now rather than at the next tick. */
  checkNow: () => void = () => {};

  /**
   * For the logger: true for a warning or error about a lost connection that is to be left out. The first
   * such line is logged and makes the watch check at once; the others are left out while it checks and
   * for as long as the database does not answer.
   */
  mute(args: unknown[]): boolean {
    if (!isConnectionError(args)) return false;
    if (this.down || this.checking) {
      this.muted++;
      return true;
    }
    this.checking = true;
    this.checkNow();
    return false;
  }
}

/** Marks the watch's own lines, which are never left out. */
const COMPONENT = "database watch";

function isConnectionError([first, second]: unknown[]): boolean {
  const obj =
    first && typeof first === "object" ? (first as { err?: unknown; component?: unknown }) : undefined;
  if (obj?.component === COMPONENT) return false;
  const err = obj?.err;
  const text = [
    err instanceof Error ? `${err.message} ${(err as { code?: string }).code ?? ""}` : String(err ?? ""),
    typeof first === "string" ? first : "",
    typeof second === "string" ? second : "",
  ].join(" ");
  return CONNECTION_ERROR.test(text);
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
      if (!o.outage.down && o.outage.checking) {
        // A passing connection error: the database answers.
        o.outage.checking = false;
        o.outage.muted = 0;
      }
      if (o.outage.down) {
        const secs = ((clock.now() - since) / 1000).toFixed(1);
        const muted = o.outage.muted
          ? `; ${o.outage.muted} connection errors of waiting parts were not logged`
          : "";
        o.outage.down = false;
        o.outage.checking = false;
        o.outage.muted = 0;
        o.log.info(
          { component: COMPONENT, url: o.where },
          `the database ${o.where} answers again after ${secs} s${muted}`,
        );
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!o.outage.down) {
        restartFailed = false;
        since = clock.now();
        o.log.error(
          { component: COMPONENT, url: o.where, err: message },
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
      if (did)
        o.log.warn(
          { component: COMPONENT, url: o.where, was: why },
          `the embedded Postgres had stopped; ${did}`,
        );
    } catch (err) {
      // Said once per outage; the next checks try again quietly.
      if (restartFailed) return;
      restartFailed = true;
      o.log.error(
        { component: COMPONENT, err: String(err) },
        `the embedded Postgres is not running and starting it again failed (${String(err)}); trying again every ${every / 1000} s`,
      );
    }
  };

  let checking: Promise<void> | undefined;
  const checkOnce = () => {
    checking ??= check().finally(() => {
      checking = undefined;
    });
    return checking;
  };
  const loop = () => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      current = checkOnce().finally(loop);
    }, every);
  };
  o.outage.checkNow = () => {
    if (!stopped) void checkOnce();
  };
  loop();
  return {
    async stop() {
      stopped = true;
      o.outage.checkNow = () => {};
      clock.clearTimeout(timer);
      await Promise.all([current, checking].map((p) => p?.catch(() => {})));
    },
  };
}
