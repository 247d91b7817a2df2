// The one pg Pool of a process. Every module that needs the database receives this pool; none opens its own
// (except LISTEN connections, which must be dedicated clients).
import pg from "pg";
import { Batch, type BatchCommand, commandsOf, commitsAfter, isRowless } from "./batch.js";

export type { Pool, PoolClient } from "pg";

export interface PoolOptions {
  max?: number;
  /**
   * Connections kept open while idle (pg-pool's `min`; default 0): above it, an idle connection is closed
   * after `idleTimeoutMs`. A change after a quiet spell otherwise waited for a new backend (its fork,
   * authentication and cold catalog caches: 10-20 ms) on the trigger's and on the engine's side.
   */
  min?: number;
  /** How long a connection above `min` may stay idle (default pg-pool's 10 s). */
  idleTimeoutMs?: number;
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
    min: opts.min ?? 0,
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMillis: opts.idleTimeoutMs }),
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

/** A statement and its values, sent as bound parameters; `name` prepares it once per connection. */
export interface Statement {
  text: string;
  values?: unknown[];
  name?: string;
  /** Fails the statement when no answer came in this long (pg's query_timeout). */
  timeoutMs?: number;
  /** pg's own spelling of timeoutMs: a pg Pool or client given as a Queryable honours only this one. */
  query_timeout?: number;
}

/** The rows a statement answered. */
export interface Rows<R> {
  rows: R[];
  rowCount: number | null;
}

/**
 * The one narrow query interface: a statement with its values (never spliced into the text). A Db, a Tx, a
 * pg Pool and a pg client all are one, so a module that only reads and writes rows takes this.
 */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string | Statement,
    values?: unknown[],
  ): Promise<Rows<R>>;
}

/**
 * The one way the engine's store modules talk to Postgres: a statement (Queryable), or a transaction. A
 * `pg.Pool` is not passed around; `poolDb` wraps the process's pool.
 */
export interface Db extends Queryable {
  /** `fn` in a transaction (see TxOptions); rolled back on any error. */
  tx<T>(fn: (tx: Tx) => Promise<T>, opts?: TxOptions): Promise<T>;
  /** `s` in a transaction of its own: the BEGIN, it and the COMMIT in one round trip (see `single`). */
  single<R extends Record<string, unknown> = Record<string, unknown>>(
    s: Statement,
    opts?: Omit<TxOptions, "first">,
  ): Promise<Rows<R>>;
}

export interface TxOptions {
  /** A first statement, sent with the BEGIN in one round trip; its rows are `tx.first`. */
  first?: Statement;
  /**
   * The COMMIT does not wait for the WAL flush (synchronous_commit off, for this transaction only): for
   * transactions whose inputs are durable already (see triggers/claim-tx.ts).
   */
  asyncCommit?: boolean;
  /**
   * Prepared statements use their generic plans from their first execution (plan_cache_mode
   * force_generic_plan, for this transaction only), not five custom plans per connection first: for a
   * statement whose plan does not depend on its values, and costly to plan.
   */
  genericPlan?: boolean;
  /**
   * The transaction's statements are planned without sequential scans where an index can serve them
   * (enable_seqscan off, for this transaction only; see INDEX_SCANS).
   */
  indexScans?: boolean;
  /** Bounds the BEGIN (with `first`) and the COMMIT; a client whose statement timed out is discarded. */
  timeoutMs?: number;
}

/** How a transaction's prepared statements are planned. */
export type Planning = Pick<TxOptions, "genericPlan" | "indexScans">;

/**
 * Generic plans, no sequential scans: for the engine's own statements, which find their rows by key whatever
 * their values. The record trigger's claim (record/sql.ts CLAIM_OPTIONS) and a try's record (commit-try.ts
 * RECORD_PLANNING) run so, each for the reasons measured there.
 */
export const BY_KEY = { genericPlan: true, indexScans: true } as const satisfies Planning;

export interface Tx extends Queryable {
  /** The transaction's connection, for a step or module that needs a client of its own. */
  readonly client: pg.PoolClient;
  /** The rows of TxOptions.first (none without it). */
  readonly first: Record<string, unknown>[];
  /**
   * Sends `s` and the COMMIT together, answered in one round trip; the transaction ends with it. When `s`
   * fails, nothing commits and its error is thrown.
   */
  commitWith<R extends Record<string, unknown> = Record<string, unknown>>(s: Statement): Promise<Rows<R>>;
}

/** The narrow interface over a pool. */
export function poolDb(pool: pg.Pool): Db {
  return {
    query: (text, values) =>
      (typeof text === "string" ? pool.query(text, values) : pool.query(toConfig(text))) as Promise<
        Rows<never>
      >,
    tx: (fn, opts) =>
      withTransaction(
        pool,
        (client, first, committed) =>
          fn({
            client,
            first,
            query: (text, values) =>
              (typeof text === "string"
                ? client.query(text, values)
                : client.query(toConfig(text))) as Promise<Rows<never>>,
            async commitWith(st) {
              const r = await commitWith(client, st, opts?.timeoutMs);
              committed();
              return r as unknown as Rows<never>;
            },
          }),
        opts,
      ),
    single: (st, opts) => single(pool, st, opts) as unknown as Promise<Rows<never>>,
  };
}

/**
 * `s` alone in a transaction, the BEGIN, it and the COMMIT sent at once (one round trip): what a simple
 * query of several statements gave, with the values bound. A client whose statement timed out is discarded.
 */
export async function single(
  pool: pg.Pool,
  s: Statement,
  opts: Omit<TxOptions, "first"> = {},
): Promise<pg.QueryResult> {
  const client = await pool.connect();
  let broken = false;
  try {
    const [, r, commit] = await pipelined(client, [beginOf(opts), s, "COMMIT"], opts.timeoutMs);
    if (commit!.command !== "COMMIT") throw new Error("the transaction was rolled back instead of committed");
    return r!;
  } catch (err) {
    broken = isQueryTimeout(err) || !(client as unknown as { _queryable?: boolean })._queryable;
    // A failed statement's COMMIT rolled back already; a transaction left open by a lost answer is ended.
    if (!broken) await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release(broken || undefined);
  }
}

/**
 * Opens `connections` of the pool's connections at once (at most as many as are not in use) and runs
 * `statements` on each, one after another, in a transaction rolled back: named ones are then prepared there,
 * under `planning`'s SET LOCALs, as where they will run (a generic plan is kept by the connection as it was
 * built). A fresh process otherwise pays for its first events with new backends (a fork and a login each),
 * their catalog caches filled and its statements parsed and planned, all while the events wait. The
 * statements must change nothing (a claim of none). Idle connections close after the pool's idle timeout,
 * as before.
 */
export async function warmPool(
  pool: pg.Pool,
  connections: number,
  statements: Statement[] = [],
  planning: Planning = {},
): Promise<void> {
  // Only connections free now (idle, or not opened yet): waiting for one in use could wait for ever, for a
  // transaction of the caller's own.
  const free = (pool.options.max ?? connections) - (pool.totalCount - pool.idleCount);
  const opened = await Promise.allSettled(
    Array.from({ length: Math.max(0, Math.min(connections, free)) }, () => pool.connect()),
  );
  const clients = opened.flatMap((c) => (c.status === "fulfilled" ? [c.value] : []));
  /** Clients whose transaction may be left open (a ROLLBACK that failed): discarded, not pooled. */
  const broken = new Set<pg.PoolClient>();
  try {
    await Promise.all(
      clients.map(async (client) => {
        if (statements.length === 0) return;
        await client.query(beginOf(planning));
        try {
          for (const s of statements) await client.query(toConfig(s));
        } finally {
          await client.query("ROLLBACK").catch((err) => {
            broken.add(client);
            throw err;
          });
        }
      }),
    );
  } finally {
    for (const c of clients) c.release(broken.has(c) || undefined);
  }
  const failed = opened.find((c) => c.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * For the rest of the transaction, no sequential scan where an index can serve (a plan built meanwhile keeps
 * that choice: a prepared statement's generic plan is built once per connection). For hot statements that find
 * their rows by key in tables whose statistics say they are tiny, which the planner then reads whole: the
 * record outbox, drained as fast as it fills and so always near empty when analyzed, whose dead rows pile up
 * between vacuums; the runs after a VACUUM ANALYZE of an empty table (a fresh install, bench/peers.ts's
 * rounds), where a connection's generic plan for a run's row by id, built while the table held a page or two,
 * read every run, each run's old versions too, as the table grew. Over a latency round (bench/peers.ts,
 * auto_explain): a sql step's record read 30 buffers, 12 of them in such scans, and 19 without; the outbox
 * claim's two scans of the outbox 25, and 9 through its primary key. A statement that no index serves is
 * planned as before.
 */
export const INDEX_SCANS = "SET LOCAL enable_seqscan TO off";

/**
 * For the rest of the transaction, a prepared statement runs its generic plan, built once per connection
 * (plan_cache_mode force_generic_plan). Otherwise Postgres plans a connection's first five executions anew
 * with their values (custom plans), and every one after while its estimates rank the generic plan higher,
 * whatever the values. The outbox claim's planning took 0.22 to 0.49 ms where its execution took 0.09 to 0.17,
 * and a try's record about the same: 215 claims of a 2-s round at 100 changes/s spent 22.9 ms binding, 11.5
 * with this, and a fresh daemon's first changes paid most of it. For the engine's own statements, which find
 * their rows by key whatever their values; sent after a step's own statements, which keep Postgres's choice.
 */
export const GENERIC_PLANS = "SET LOCAL plan_cache_mode TO force_generic_plan";

/** The SET LOCALs of `opts`, as one simple query ("" for none): sent with a BEGIN, or later in a transaction. */
export function setLocalsOf(opts: Pick<TxOptions, "asyncCommit" | "genericPlan" | "indexScans">): string {
  let s = "";
  if (opts.asyncCommit) s += "; SET LOCAL synchronous_commit TO off";
  if (opts.genericPlan) s += `; ${GENERIC_PLANS}`;
  if (opts.indexScans) s += `; ${INDEX_SCANS}`;
  return s.slice(2);
}

/** The BEGIN of a transaction with `opts`, its SET LOCALs included (one simple query). */
export function beginOf(opts: Omit<TxOptions, "first">): string {
  const locals = setLocalsOf(opts);
  return locals ? `BEGIN; ${locals}` : "BEGIN";
}

/** A statement's own timeout (either spelling), else `fallback`. */
const timeoutOf = (s: Statement, fallback?: number): number | undefined =>
  s.timeoutMs ?? s.query_timeout ?? fallback;

/** pg's config of a statement. */
const toConfig = (s: Statement): pg.QueryConfig => {
  const timeout = timeoutOf(s);
  return {
    text: s.text,
    values: s.values,
    ...(s.name ? { name: s.name } : {}),
    ...(timeout ? { query_timeout: timeout } : {}),
  } as pg.QueryConfig;
};

interface PipelineInternals {
  pipeline: boolean;
  connection: { stream: { cork?: () => void; uncork?: () => void } };
}

/** A pg query's end: its error, or its result (an array of them for a simple query of several commands). */
type Answered = (err: Error | undefined, result: pg.QueryResult) => void;

/**
 * pg's Query for a statement, made from its text and values: given a config object, pg copies it property by
 * property (Object.defineProperties) into a new object first, and answers through a promise of its own with
 * a rejection handler; a statement of a run's step and its record went through that four times per run.
 */
function queryOf(s: string | Statement, timeoutMs: number | undefined, answered: Answered): pg.Query {
  if (typeof s === "string") {
    const q = new pg.Query(s, undefined, answered as never);
    if (timeoutMs) (q as unknown as { query_timeout: number }).query_timeout = timeoutMs;
    return q;
  }
  const q = new pg.Query(s.text, s.values, answered as never) as unknown as {
    name?: string;
    query_timeout?: number;
  };
  if (s.name) q.name = s.name;
  const timeout = timeoutOf(s, timeoutMs);
  if (timeout) q.query_timeout = timeout;
  return q as unknown as pg.Query;
}

/**
 * Sends the statements at once, in one write, each with its values bound, so they are answered in one
 * round trip. Resolves with their results once all have answered (a plain string of several commands with
 * an array of its results, as pg gives them); rejects with the first error. A plain string is a simple
 * query's text (no values).
 *
 * In a transaction block, or a batch that opens one with its BEGIN, they go behind one Sync (see
 * db/batch.ts): the server stops at a failed statement and runs none after it; where a COMMIT was among
 * those, a ROLLBACK is sent before the error is given (a COMMIT after a failed statement rolls back), and
 * otherwise the transaction is left failed, for the caller to roll back. Otherwise (no transaction, or a
 * statement that must go as a simple query: no values, no name, so perhaps several commands) each has its
 * own Sync, and the statements after a failed one run (in a transaction, they fail too, and a COMMIT after
 * it rolls back).
 */
export function pipelined(
  client: pg.PoolClient,
  statements: (string | Statement)[],
  timeoutMs?: number,
): Promise<pg.QueryResult[]> {
  if (statements.length === 0) return Promise.resolve([]);
  let plan: ReturnType<typeof batchOf>;
  try {
    plan = batchOf(client, statements, timeoutMs);
  } catch (err) {
    // A value pg cannot send (prepareValue threw): nothing was written.
    return Promise.reject(err);
  }
  if (!plan) return pipelinedEach(client, statements, timeoutMs);
  return new Promise((resolve, reject) => {
    const batch: Batch = new Batch(
      plan.commands,
      (client as unknown as { _types?: unknown })._types ?? pg.types,
      (err, results) => {
        if (err) {
          // As pg's own promise does: a stack leading back here, not to the socket's read.
          Error.captureStackTrace(err);
          // The server skipped a COMMIT after the failed statement, where one Sync per statement ran it (and
          // it rolled back): the transaction is ended here as it was then, its ROLLBACK sent behind the batch.
          if (err instanceof pg.DatabaseError && commitsAfter(plan.commands, batch.failedAt ?? 0)) {
            client.query("ROLLBACK").then(
              () => reject(err),
              () => reject(err),
            );
            return;
          }
          return reject(err);
        }
        const out: pg.QueryResult[] = new Array(statements.length);
        let j = 0;
        for (let i = 0; i < statements.length; i++) {
          const n = plan.counts[i]!;
          out[i] = n === 1 ? results[j]! : (results.slice(j, j + n) as unknown as pg.QueryResult);
          j += n;
        }
        resolve(out);
      },
      plan.timeoutMs,
    );
    client.query(batch as never);
  });
}

/** Whether a client's connection is in a transaction block (pg keeps the status of its last ReadyForQuery). */
const inTransaction = (client: pg.PoolClient): boolean =>
  (client as unknown as { _txStatus?: string | null })._txStatus !== "I";

const { prepareValue } = (pg as unknown as { utils: { prepareValue: (v: unknown) => unknown } }).utils;

/**
 * The commands of `statements` behind one Sync (see pipelined), each string split into its commands, with
 * how many each statement has and the batch's timeout; undefined where they must go one Sync each.
 */
function batchOf(
  client: pg.PoolClient,
  statements: (string | Statement)[],
  timeoutMs: number | undefined,
): { commands: BatchCommand[]; counts: number[]; timeoutMs: number | undefined } | undefined {
  const commands: BatchCommand[] = [];
  const counts: number[] = [];
  // Answers come all at once, at the Sync: the batch is bounded by its tightest timeout, and not at all
  // where one of its statements is not (each statement's own timer started at the send, too).
  let timeout: number | undefined = Number.POSITIVE_INFINITY;
  for (const s of statements) {
    if (typeof s === "string") {
      const texts = commandsOf(s);
      if (!texts) return undefined;
      for (const text of texts) commands.push({ text, values: [], describe: !isRowless(text) });
      counts.push(texts.length);
      timeout = tightest(timeout, timeoutMs);
      continue;
    }
    // No values and no name: pg sends it as a simple query, which may hold several commands.
    if (!s.name && !s.values?.length) return undefined;
    // Mapped here, before anything is written: a value pg cannot send fails the batch unsent.
    commands.push({
      text: s.text,
      values: (s.values ?? []).map((v) => prepareValue(v)),
      describe: true,
      ...(s.name ? { name: s.name } : {}),
    });
    counts.push(1);
    timeout = tightest(timeout, timeoutOf(s, timeoutMs));
  }
  if (!inTransaction(client) && !/^\s*(BEGIN|START\s+TRANSACTION)\b/i.test(commands[0]!.text))
    return undefined;
  return { commands, counts, timeoutMs: timeout };
}

/** A batch's timeout with one more statement's: the tighter, and none once a statement has none. */
const tightest = (batch: number | undefined, statement: number | undefined): number | undefined =>
  batch === undefined || statement === undefined ? undefined : Math.min(batch, statement);

/**
 * pipelined() with a Sync per statement (pg's pipeline mode for their duration): for statements outside a
 * transaction block, each its own transaction, and for simple queries (no values) that may hold several
 * commands. Rejects with the first error (in their order).
 */
function pipelinedEach(
  client: pg.PoolClient,
  statements: (string | Statement)[],
  timeoutMs?: number,
): Promise<pg.QueryResult[]> {
  const c = client as unknown as PipelineInternals;
  const stream = c.connection.stream;
  return new Promise((resolve, reject) => {
    const out: pg.QueryResult[] = new Array(statements.length);
    let left = statements.length;
    // The error of the first statement (in their order) that failed.
    let failedAt = statements.length;
    let failure: Error | undefined;
    const answer = (i: number): Answered => {
      // Counted once: pg calls a query's callback once, but a second call must not end the wait early.
      let done = false;
      return (err, result) => {
        if (done) return;
        done = true;
        if (err) {
          if (i < failedAt) {
            failedAt = i;
            failure = err;
          }
        } else out[i] = result;
        if (--left > 0) return;
        // Every statement answered (or the connection is gone): back to one statement at a time.
        c.pipeline = false;
        if (failure) {
          // As pg's own promise does: a stack leading back here, not to the socket's read.
          Error.captureStackTrace(failure);
          reject(failure);
        } else resolve(out);
      };
    };
    c.pipeline = true;
    stream.cork?.();
    try {
      for (let i = 0; i < statements.length; i++)
        client.query(queryOf(statements[i]!, timeoutMs, answer(i)) as never);
    } finally {
      stream.uncork?.();
    }
  });
}

/**
 * `s` and the COMMIT in one round trip (see pipelined). A COMMIT that rolled back (a failed statement before
 * it in the transaction) is an error.
 */
export function commitWith(
  client: pg.PoolClient,
  s: Statement,
  timeoutMs?: number,
  /** A simple query (no values) sent ahead of `s` in the same round trip (a SET LOCAL for it). */
  before?: string,
): Promise<pg.QueryResult> {
  // Not an async function: a step's record and a trigger's insert go through here, one frame less each.
  return pipelined(client, before ? [before, s, "COMMIT"] : [s, "COMMIT"], timeoutMs).then((rs) => {
    if (rs[rs.length - 1]!.command !== "COMMIT")
      throw new Error("the transaction was rolled back instead of committed");
    return rs[rs.length - 2]!;
  });
}

/**
 * Runs `fn` in a transaction on a pooled client; rolls back on any error. With `first`, that statement goes
 * with the BEGIN in one round trip (pipelined, its values bound), and `fn` receives its rows. `fn` calls
 * `committed` when its last statement went with the COMMIT (commitWith); the COMMIT is then not sent again.
 * `timeoutMs` bounds the BEGIN and the COMMIT (fn bounds its own statements); a client whose statement timed
 * out is discarded, not reused: its connection still waits for that statement's answer.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, first: Record<string, unknown>[], committed: () => void) => Promise<T>,
  opts: TxOptions = {},
): Promise<T> {
  const client = await pool.connect();
  const begin = beginOf(opts);
  let done = false;
  let stuck = false;
  try {
    let first: Record<string, unknown>[] = [];
    if (opts.first) {
      const [, r] = await pipelined(client, [begin, opts.first], opts.timeoutMs);
      first = r!.rows;
    } else {
      await client.query(
        opts.timeoutMs ? ({ text: begin, query_timeout: opts.timeoutMs } as pg.QueryConfig) : begin,
      );
    }
    const result = await fn(client, first, () => {
      done = true;
    });
    if (!done)
      await client.query(
        opts.timeoutMs ? ({ text: "COMMIT", query_timeout: opts.timeoutMs } as pg.QueryConfig) : "COMMIT",
      );
    return result;
  } catch (err) {
    stuck = isQueryTimeout(err) || !(client as unknown as { _queryable?: boolean })._queryable;
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
