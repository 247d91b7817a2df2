// The one LISTEN connection module: a dedicated client (held for good, so never a pool's), which LISTENs on
// its channels and, when the connection is lost, reconnects with backoff and LISTENs on all of them again.
// NOTIFYs sent while it was not listening are lost: after every (re)connect `onListening` tells the consumer
// to re-check the state it watches. A connection that stops answering (a network partition, which TCP takes
// minutes to notice) is found by a periodic ping and replaced. Used by the engine (skyflow_runs) and by the
// record trigger (skyflow_record, whose wake-flag updates also travel on this client).
import pg from "pg";
import { type Backoff, backoffMs } from "../backoff.js";
import type { Logger } from "../log.js";
import { settledWithin } from "../within.js";
import type { Queryable } from "./store/enqueue.js";

export interface ListenOptions {
  /** Where to connect (typically `pool.options`); application_name and the timeouts are set here. */
  connection: pg.ClientConfig;
  /** Channel names (plain identifiers: they are not quoted). */
  channels: readonly string[];
  onNotify: (channel: string, payload: string | undefined) => void;
  /**
   * After every successful LISTEN, the first included: notifications sent before it (or while reconnecting)
   * were not received, so the consumer re-checks what it watches.
   */
  onListening?: () => void;
  log: Logger;
  /** pg_stat_activity's application_name of the connection (default "skyflow-listen"). */
  name?: string;
  /** Statements run on each new connection before LISTEN (e.g. "SET synchronous_commit = off"). */
  setup?: readonly string[];
  /** How often the connection is checked to answer, and how long it may take to (default 15 s and 10 s). */
  pingMs?: number;
  pingTimeoutMs?: number;
}

export interface Listener {
  /** Settles after the first connect attempt, successful or not (a failed one is retried in the background). */
  readonly ready: Promise<void>;
  /**
   * The connection, or undefined while reconnecting: one object per connection (a new one after a
   * reconnect). Its queries run one after another, with the module's pings.
   */
  client(): Queryable | undefined;
  /** Ends the connection (not UNLISTEN: across a partition that would wait for TCP to give up). */
  close(): Promise<void>;
}

/** The reconnect backoff (src/backoff.ts, the one backoff): 100 ms doubling to 5 s, equal jitter. */
const RECONNECT: Backoff = { initialMs: 100, maxMs: 5_000, jitter: "equal" };
/** How long close() waits for the server to see the connection end before leaving it to the OS. */
const CLOSE_WAIT_MS = 1_000;

const CHANNEL = /^[a-z_][a-z0-9_]*$/;

export function listen(o: ListenOptions): Listener {
  for (const ch of o.channels) if (!CHANNEL.test(ch)) throw new Error(`bad LISTEN channel name: ${ch}`);
  const pingMs = o.pingMs ?? 15_000;
  const pingTimeoutMs = o.pingTimeoutMs ?? 10_000;
  let current: pg.Client | undefined;
  let serial: Queryable | undefined;
  let pinging = false;
  let closed = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let connecting: Promise<void> = Promise.resolve();
  /** A connection being opened (it may hang through a partition until its connect timeout). */
  let opening: pg.Client | undefined;

  /** `c` is done for (ended, errored, not answering): forget it, end it, and reconnect after a backoff. */
  const lost = (c: pg.Client, why: string): void => {
    if (current === c) {
      current = undefined;
      serial = undefined;
      if (!closed) o.log.warn({ err: why }, "LISTEN connection lost; reconnecting");
    }
    void end(c);
    scheduleConnect();
  };

  const scheduleConnect = (): void => {
    if (closed || retryTimer || current) return;
    const delay = backoffMs(RECONNECT, ++failures);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connecting = connect();
    }, delay);
    retryTimer.unref();
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new pg.Client({
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...o.connection,
      application_name: o.name ?? "skyflow-listen",
    });
    let gone = false;
    const fail = (why: string) => {
      if (gone) return;
      gone = true;
      lost(c, why);
    };
    c.on("error", (err) => fail(err.message));
    c.on("end", () => fail("connection ended"));
    c.on("notification", (m) => {
      if (current === c) o.onNotify(m.channel, m.payload);
    });
    opening = c;
    try {
      await c.connect();
      for (const s of o.setup ?? []) await c.query(s);
      for (const ch of o.channels) await c.query(`LISTEN ${ch}`);
    } catch (err) {
      if (!closed) o.log.warn({ err: (err as Error).message }, "LISTEN connect failed; retrying");
      fail((err as Error).message);
      return;
    } finally {
      if (opening === c) opening = undefined;
    }
    if (closed || gone) {
      if (!gone) void end(c);
      return;
    }
    current = c;
    serial = inTurn(c);
    failures = 0;
    try {
      o.onListening?.();
    } catch (err) {
      o.log.error({ err: (err as Error).message }, "LISTEN consumer failed on reconnect");
    }
  };

  /** One ping at a time, in turn with the consumer's queries; no answer in time and the connection is lost. */
  const ping = (): void => {
    const c = current;
    const q = serial;
    if (!c || !q || closed || pinging) return;
    pinging = true;
    const timer = setTimeout(() => lost(c, "no answer to a ping"), pingTimeoutMs);
    q.query("SELECT 1").then(
      () => {
        clearTimeout(timer);
        pinging = false;
      },
      (err: Error) => {
        clearTimeout(timer);
        pinging = false;
        lost(c, `ping failed: ${err.message}`);
      },
    );
  };

  connecting = connect();
  const ready = connecting.then(() => {
    if (closed) return;
    pingTimer = setInterval(ping, pingMs);
    pingTimer.unref();
  });
  return {
    ready,
    client: () => serial,
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      if (pingTimer) clearInterval(pingTimer);
      // A connection still opening (through a partition it hangs until its connect timeout) is ended, and
      // waited for no longer than a close: stopping must not wait for the network.
      if (opening) void end(opening);
      await settledWithin(connecting, CLOSE_WAIT_MS);
      const c = current;
      current = undefined;
      serial = undefined;
      if (c) await end(c);
    },
  };
}

/** `c`'s queries, one after another (pg warns of a query sent while another runs). */
function inTurn(c: pg.Client): Queryable {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    query<R extends Record<string, unknown>>(text: Parameters<Queryable["query"]>[0], values?: unknown[]) {
      const run = tail.then(() => c.query<R>(text as pg.QueryConfig, values));
      tail = run.catch(() => {});
      return run;
    },
  };
}

/** Ends `c`, waiting at most CLOSE_WAIT_MS for the server (a partitioned one never answers). */
function end(c: pg.Client): Promise<void> {
  return settledWithin(c.end(), CLOSE_WAIT_MS);
}
