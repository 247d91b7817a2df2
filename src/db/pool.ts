// The one pg Pool of a process. Every module that needs the database receives this pool; none opens its own
// (except LISTEN connections, which must be dedicated clients).
import pg from "pg";

export type { Pool, PoolClient } from "pg";

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  /** A new connection that gets no answer within this fails (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
}

/**
 * Across a partition a new connection waits for TCP to give up on it (about 2 minutes for an unanswered
 * SYN, for ever behind a peer that accepts and then says nothing), and so does whatever needed it: a claim,
 * an engine's stop waiting for that claim.
 */
export const CONNECT_TIMEOUT_MS = 10_000;

export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  // pg-pool's connectionTimeoutMillis would also fail a checkout that waits for a free client under load; a
  // client of our own bounds its connect alone.
  class BoundedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super({
        ...(typeof config === "string" ? { connectionString: config } : config),
        connectionTimeoutMillis: connectTimeoutMs,
      });
    }
  }
  const pool = new pg.Pool({
    Client: BoundedClient as unknown as new () => pg.ClientBase,
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? "skyflow",
    // A connection whose peer is gone (a partition, a host that died) is probed by TCP keepalive after 10 s of
    // silence and given up when the probes go unanswered (about 11 minutes with Linux's defaults) instead of
    // never: a statement waiting on it then fails, and the pool replaces it.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on("error", () => {});
  // Nor may a checked-out one (in a transaction, or a step's statement): pg emits "error" on a client
  // whose connection drops even while a query of it is failing with that error, and a checked-out client
  // has no pool listener. Its queries fail, and the pool discards it when it is released.
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  return pool;
}

/**
 * Runs `fn` in a transaction on a pooled client; rolls back on any error. `begin` replaces the plain BEGIN:
 * text without parameters sent in one round trip (e.g. `BEGIN; SET LOCAL ...; <a first statement>`), whose
 * results `fn` receives. `fn` calls `committed` when its last statement was sent with the COMMIT (as
 * `<statement>; COMMIT`, a round trip less); the COMMIT is then not sent again. `timeoutMs` bounds the BEGIN
 * and the COMMIT (fn bounds its own statements); a client whose statement timed out is discarded, not
 * reused: its connection still waits for that statement's answer.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, begun: pg.QueryResult[], committed: () => void) => Promise<T>,
  begin?: (client: pg.PoolClient) => string,
  opts: { timeoutMs?: number } = {},
): Promise<T> {
  const client = await pool.connect();
  const send = (text: string) =>
    client.query(
      opts.timeoutMs ? ({ text, query_timeout: opts.timeoutMs } as pg.QueryConfig) : text,
    ) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>;
  let done = false;
  let stuck = false;
  try {
    const r = await send(begin ? begin(client) : "BEGIN");
    const result = await fn(client, Array.isArray(r) ? r : [r], () => {
      done = true;
    });
    if (!done) await send("COMMIT");
    return result;
  } catch (err) {
    stuck = isQueryTimeout(err);
    // Behind a statement with no answer, the ROLLBACK would wait as long: discarding the client ends it.
    if (!stuck) await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release(stuck || undefined);
  }
}

/** The error pg gives a query whose query_timeout ran out. */
function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === "Query read timeout";
}

/** `"a"."b"`: quotes an identifier for SQL text (names of schemas, tables, columns). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * `s` as a dollar-quoted literal, with a tag that `s` does not hold: no character of it is escaped. The
 * client's escapeLiteral, char by char, cost the backlog drain's 500-run inserts about 60 µs per run
 * (store/enqueue.ts).
 */
export function dollarQuoted(s: string): string {
  let tag = "$j$";
  for (let n = 0; s.includes(tag); n++) tag = `$j${n}$`;
  return `${tag}${s}${tag}`;
}

/**
 * `statement` with each `$n` replaced by `args[n - 1]`, SQL literals already quoted by the caller: for text
 * sent as a simple query (several statements in one round trip). One pass, so a `$` inside a value is never
 * read as a parameter; the statement itself must hold `$` only in its parameters.
 */
export function inlineParams(statement: string, args: string[]): string {
  return statement.replace(/\$(\d+)/g, (_, n) => args[Number(n) - 1]!);
}
