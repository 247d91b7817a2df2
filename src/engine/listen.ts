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
  return open(o);
}

/** A listen() whose channels can grow (a hub's). */
interface Opened extends Listener {
  /**
   * LISTENs on `channels` too: at once when connected (true once done), else at the next connect (false;
   * its onListening follows).
   */
  also(channels: readonly string[]): Promise<boolean>;
}

function checkChannels(channels: readonly string[]): void {
  for (const ch of channels) if (!CHANNEL.test(ch)) throw new Error(`bad LISTEN channel name: ${ch}`);
}

function open(o: ListenOptions): Opened {
  checkChannels(o.channels);
  /** LISTENed on every connection (a Set: one added while a connect LISTENs is LISTENed by it too). */
  const channels = new Set(o.channels);
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
      for (const ch of channels) await c.query(`LISTEN ${ch}`);
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
    async also(more) {
      checkChannels(more);
      const fresh = more.filter((ch) => !channels.has(ch));
      for (const ch of fresh) channels.add(ch);
      const c = current;
      const q = serial;
      if (!c || !q) return false;
      try {
        for (const ch of fresh) await q.query(`LISTEN ${ch}`);
      } catch (err) {
        lost(c, `LISTEN failed: ${(err as Error).message}`);
        return false;
      }
      return current === c;
    },
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

/** Listeners on one connection (see listenHub). */
export interface ListenHub {
  /**
   * As listen(), on the hub's connection: the hub's connection, name, log, setup and pings apply (a consumer's
   * setup must be one of the hub's). onListening follows the consumer's own LISTEN, then every reconnect.
   */
  listen(o: ListenOptions): Listener;
}

/**
 * One LISTEN connection for a process's consumers (the engine's skyflow_runs, the record trigger's
 * skyflow_record). Postgres wakes every listening backend of the database at each NOTIFY, whatever its
 * channels: with a connection each, every record change woke a second backend for nothing, about as much of
 * its CPU as the one that forwards it (0.10 against 0.12 ms per change at 100 a second, measured). Opened by
 * the first consumer, ended with the last one's close.
 */
export function listenHub(o: Omit<ListenOptions, "channels" | "onNotify" | "onListening">): ListenHub {
  interface Consumer {
    channels: ReadonlySet<string>;
    o: ListenOptions;
  }
  const consumers = new Set<Consumer>();
  let shared: Opened | undefined;
  const each = (fn: (c: Consumer) => void): void => {
    for (const c of [...consumers]) {
      try {
        fn(c);
      } catch (err) {
        o.log.error({ err: (err as Error).message }, "LISTEN consumer failed");
      }
    }
  };
  return {
    listen(c) {
      checkChannels(c.channels);
      const extra = (c.setup ?? []).filter((s) => !(o.setup ?? []).includes(s));
      if (extra.length > 0)
        throw new Error(`a LISTEN consumer's setup is not the hub's: ${extra.join("; ")}`);
      const consumer: Consumer = { channels: new Set(c.channels), o: c };
      consumers.add(consumer);
      let ready: Promise<void>;
      if (!shared) {
        shared = open({
          ...o,
          channels: c.channels,
          onNotify: (ch, payload) => each((k) => k.channels.has(ch) && k.o.onNotify(ch, payload)),
          onListening: () => each((k) => k.o.onListening?.()),
        });
        ready = shared.ready;
      } else {
        const s = shared;
        const live = s.also(c.channels);
        ready = Promise.all([s.ready, live]).then(([, now]) => {
          // Connected already: its channels LISTENed now, it re-checks as after any (re)connect.
          if (now && consumers.has(consumer)) c.onListening?.();
        });
      }
      let closed = false;
      return {
        ready,
        client: () => (closed ? undefined : shared?.client()),
        async close() {
          if (closed) return;
          closed = true;
          consumers.delete(consumer);
          // Its channels stay LISTENed until the last consumer closes: what comes on them is dropped here.
          if (consumers.size > 0 || !shared) return;
          const s = shared;
          shared = undefined;
          await s.close();
        },
      };
    },
  };
}
