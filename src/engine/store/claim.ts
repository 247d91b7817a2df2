// Claiming runs for this engine, bounded by its free capacity. Three sources, in this order: runs already in
// flight whose lease expired or whose retry wait is over; pending runs of workflows with a concurrency
// limit (serialized by an advisory lock, FIFO per key); other pending runs. Every batch uses the
// `id = ANY(ARRAY(... FOR UPDATE SKIP LOCKED LIMIT n))` form, which runs its subquery exactly once.
import type { Db } from "../../db/pool.js";
import type { Queryable } from "./enqueue.js";
import { stepOutputsOf } from "./save.js";

export interface ClaimedRun {
  id: string;
  workflow: string;
  version: string;
  event: Record<string, unknown>;
  depth: number;
  status: string;
  snapshot: unknown;
  attempt: number;
  concurrency_key: string | null;
  started_at: Date;
  /** A parked run's wait and what released it (src/engine/park); null otherwise. */
  wait?: unknown;
  wake?: unknown;
  /** Which claim of the run this is (0: created leased); a step's own transaction commits only under it. */
  claims?: number;
  /**
   * The outputs of its succeeded steps (save.ts stepOutputs), when the statement that leased it read them
   * (a resumed run's claim, a released wait): the runner then does not read them in a round trip of its own.
   */
  outputs?: Record<string, unknown> | null;
  /**
   * Set on a run handed over while the transaction creating it is still committing (NewRunLease.sent):
   * resolves once that COMMIT is answered with the run created, rejects otherwise. Until then the run's row
   * may not exist: nothing of the run may be written or done that a rollback could not undo (runner.ts).
   */
  ready?: Promise<void>;
}

/**
 * SQL for the `outputs` of run `r` (see ClaimedRun), as save.ts stepOutputs reads them (stepOutputsOf): each
 * step's last succeeded try. Null when its saved state has no succeeded step (nothing to read).
 */
export const OUTPUTS_OF = (r: string) =>
  `CASE WHEN ${r}.snapshot->'steps' @? '$.*.status ? (@ == "succeeded")' THEN ${stepOutputsOf(`${r}.id`)} END`;

/**
 * An engine in this process that takes new runs straight from a trigger's transaction: they are created
 * leased to it and handed over once that transaction commits, with no claim (a round trip and a wake-up
 * less between a change and its run's first step). Only for workflows without a concurrency limit.
 */
export interface RunHandoff {
  owner: string;
  leaseMs: number;
  /** Reserves room for up to `n` runs (within the engine's free capacity); returns how many. */
  reserve(n: number): number;
  /**
   * After the commit: the runs created leased to this engine. Releases the whole reservation. `leasedAt`
   * (performance.now()): a moment before the statement that leased them was sent.
   */
  adopt(runs: ClaimedRun[], reserved: number, leasedAt?: number): void;
  /**
   * Runs being created leased to this engine, by a transaction about to send its COMMIT (each with
   * `ready`): starts those it can at once, so that a first step which commits its own transaction (sql)
   * runs while that COMMIT travels; returns the ones it started, which `adopt` must then not be given. Their
   * reservation stays until `adopt`.
   */
  launch?(runs: ClaimedRun[], leasedAt: number): ClaimedRun[];
  /** The room free now (nothing reserved). */
  room?(): number;
  /**
   * Settles once the engine has room for a claim's worth of runs (a quarter of its capacity, at most `n`), or
   * after `ms`, or when it stops. A trigger draining a backlog waits for it and claims only as many changes
   * as there is room: their runs are then created leased, where runs created pending are each claimed again
   * (a second write of every index of the run's row).
   */
  whenRoom?(n: number, ms: number): Promise<void>;
  /**
   * Executes `runs` (never created: a trigger's rehearsal of a synthetic change) against nothing, no run of
   * the engine's own and no reservation taken (see engine/rehearse.ts); settles once they have ended.
   */
  rehearse?(runs: ClaimedRun[]): Promise<void>;
}

export interface ClaimOptions {
  owner: string;
  leaseMs: number;
  limit: number;
  /** Workflows with a concurrency limit. */
  limited: { workflow: string; limit: number }[];
  /** Claim only these runs (a one-off engine such as `skyflow trigger`); undefined claims any. */
  only?: string[];
  /**
   * Also look for in-flight runs to resume (expired leases, retry waits over). That search reads every run in
   * flight, on every engine, so the engine does it on its poll and its wake-ups, not each time a run ends.
   * Default true.
   */
  resumable?: boolean;
}

const CONCURRENCY_LOCK = 7_341_220_031;

// Every claim counts (`claims`, migration 070): a step's own transaction commits only under its claim.
const SET_LEASE = `SET status = 'running', lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond',
  started_at = coalesce(started_at, now()), updated_at = now(), claims = claims + 1`;
const RETURNING = `RETURNING id, workflow, version, event, depth, status, snapshot, attempt, concurrency_key, started_at,
  wait, wake, claims, NULL::jsonb AS outputs`;

/**
 * An engine's lease owner: its configured name and its incarnation (one per engine object), so that the runs
 * an earlier incarnation held can be told from this one's (claimOwn).
 */
export function leaseOwnerOf(name: string, incarnation: string): string {
  return `${name}#${incarnation}`;
}

/**
 * Runs an earlier incarnation of this engine held (same configured name, leased as `name#...` or, before
 * incarnations, as `name`): resumed at once, lease or not. Never the runs of `self`, this incarnation's lease
 * owner: those are executing here, and claiming one again would cut off its tries (a new `claims`).
 */
export async function claimOwn(
  db: Queryable,
  name: string,
  self: string,
  leaseMs: number,
  limit: number,
): Promise<ClaimedRun[]> {
  const { rows } = await db.query<ClaimedRun & Record<string, unknown>>({
    name: "skyflow_claim_own",
    text: `UPDATE skyflow.runs ${SET_LEASE}
     WHERE id = ANY(ARRAY(SELECT id FROM skyflow.runs WHERE status = 'running' AND lease_owner <> $1
                            AND (lease_owner = $4 OR starts_with(lease_owner, $4 || '#'))
                          ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED))
     ${RETURNING}`,
    values: [self, leaseMs, limit, name],
    query_timeout: leaseMs,
  });
  return rows;
}

// The claims below commit without waiting for the WAL flush, which saves a claimed run a disk flush (0.35 ms
// here) on its way to its first step. Safe: a claim only takes the lease, and the run's first save is durable
// and conditional on that lease, so flushing it flushes the claim too; its first try either waits for that
// save or, started early (runner.ts), is stopped when the save fails. A database crash that loses a claim
// leaves the run claimable, and fails the engine's save on the dead connection before the database is back
// for another engine to claim the run. Each claim is one round trip: BEGIN with SET LOCAL, the statement with
// its values bound, and the COMMIT, pipelined (db/pool.ts `single`). Not a prepared statement: a generic plan
// would not know the LIMIT, and a claim planned for a short queue must not be reused on a long one (an
// unnamed statement is planned with its values).

// Parameters of every claim below: $1 owner, $2 lease ms, $3 limit, $4 only these runs, $5 limited workflows
// (RESUMABLE alone takes only the first four: every parameter sent must appear in the statement).

/**
 * A top-level sleep falling due is ended by the engines' wakers (src/engine/park/waker.ts), all due at once
 * whatever the engines' capacity; the claim resumes it itself only once it is this late (a waker that could
 * not end it, its try not found), and meanwhile takes at once the runs the wakers woke (still 'sleeping',
 * with a wake value: migration 095).
 */
const SLEEP_GRACE_MS = 2000;

/**
 * In-flight runs with an expired lease (their engine died), a finished retry wait, or a parked run due
 * (src/engine/park: a sleep a waker ended, a wait_for's timeout or release, a called child's end). A parked run's
 * wait and wake value are returned and cleared in the claim (a crash before its step's end is saved leaves
 * that step interrupted: its try runs again, and ends at once, see src/engine/park/park.ts), and so are the
 * outputs of its steps that succeeded (a round trip less before a woken run's next step).
 */
const RESUMABLE = `UPDATE skyflow.runs r ${SET_LEASE}, wait = NULL, wake = NULL
  FROM (SELECT id AS due_id, wait AS was_waiting, wake AS woken FROM skyflow.runs
        WHERE status IN ('running', 'waiting', 'sleeping') AND available_at <= now()
          AND (lease_until IS NULL OR lease_until < now())
          AND ($4::uuid[] IS NULL OR id = ANY($4::uuid[]))
          AND NOT (status = 'sleeping' AND available_at > now() - interval '${SLEEP_GRACE_MS} milliseconds'
                   AND wait->>'kind' = 'sleep' AND NOT (wait ? 'inner') AND wake IS NULL)
        ORDER BY available_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
  WHERE r.id = due.due_id
  RETURNING r.id, r.workflow, r.version, r.event, r.depth, r.status, r.snapshot, r.attempt, r.concurrency_key,
    r.started_at, due.was_waiting AS wait, due.woken AS wake, r.claims, ${OUTPUTS_OF("r")} AS outputs`;

/** Pending runs of workflows without a concurrency limit, oldest first; `limit` is SQL. */
const unlimited = (limit: string) => `UPDATE skyflow.runs ${SET_LEASE}
  WHERE id = ANY(ARRAY(SELECT id FROM skyflow.runs
                       WHERE status = 'pending' AND available_at <= now() AND NOT (workflow = ANY($5::text[]))
                         AND ($4::uuid[] IS NULL OR id = ANY($4::uuid[]))
                       ORDER BY available_at, seq LIMIT ${limit} FOR UPDATE SKIP LOCKED))
  ${RETURNING}`;

/** Both in one statement (the common case: no limited workflows); resumable runs take capacity first. */
const RESUMABLE_THEN_PENDING = `WITH res AS (${RESUMABLE}),
  fresh AS (${unlimited("greatest($3 - (SELECT count(*) FROM res), 0)")})
  SELECT * FROM res UNION ALL SELECT * FROM fresh`;

async function claimAsync(db: Db, o: ClaimOptions, limit: number, statement: string): Promise<ClaimedRun[]> {
  const values: unknown[] = [o.owner, Math.floor(o.leaseMs), Math.max(0, Math.floor(limit)), o.only ?? null];
  if (statement !== RESUMABLE) values.push(o.limited.map((l) => l.workflow));
  // No answer within a lease (a network partition): the claim fails and the next wake-up claims again, where
  // a claim waiting for TCP to give up held up every claim after it. A claim that did land meanwhile leaves
  // its runs leased to this engine until their leases run out; then any engine takes them.
  const r = await db.single<ClaimedRun & Record<string, unknown>>(
    { text: statement, values },
    { asyncCommit: true, timeoutMs: o.leaseMs },
  );
  return r.rows;
}

/**
 * Pending runs of limited workflows: per (workflow, key), the oldest ones that fit beside the runs already
 * in flight. The advisory lock makes the count and the claim one step across engines.
 */
async function claimLimited(db: Db, o: ClaimOptions, limit: number): Promise<ClaimedRun[]> {
  return db.tx(
    async (c) => {
      const { rows } = await c.query<ClaimedRun & Record<string, unknown>>({
        timeoutMs: o.leaseMs,
        text: `UPDATE skyflow.runs ${SET_LEASE}
       WHERE id = ANY(ARRAY(
         SELECT id FROM (
           SELECT r.id, r.available_at, r.seq, l.lim,
                  row_number() OVER (PARTITION BY r.workflow, r.concurrency_key
                                     ORDER BY r.available_at, r.seq) AS rn,
                  (SELECT count(*) FROM skyflow.runs a
                    WHERE a.workflow = r.workflow AND a.concurrency_key IS NOT DISTINCT FROM r.concurrency_key
                      AND a.status IN ('running', 'waiting', 'sleeping')) AS busy
           FROM skyflow.runs r JOIN unnest($4::text[], $5::int[]) AS l(workflow, lim) ON l.workflow = r.workflow
           WHERE r.status = 'pending' AND r.available_at <= now()
             AND ($6::uuid[] IS NULL OR r.id = ANY($6::uuid[]))
         ) c WHERE c.rn + c.busy <= c.lim ORDER BY c.available_at, c.seq LIMIT $3))
       ${RETURNING}`,
        values: [
          o.owner,
          o.leaseMs,
          limit,
          o.limited.map((l) => l.workflow),
          o.limited.map((l) => l.limit),
          o.only ?? null,
        ],
      });
      return rows;
    },
    // As every claim: no answer within a lease fails it (see claimAsync).
    {
      first: { text: "SELECT pg_advisory_xact_lock($1)", values: [CONCURRENCY_LOCK] },
      asyncCommit: true,
      timeoutMs: o.leaseMs,
    },
  );
}

export async function claimRuns(pool: Db, o: ClaimOptions): Promise<ClaimedRun[]> {
  if (o.limit <= 0) return [];
  const resumable = o.resumable !== false;
  if (o.limited.length === 0)
    return claimAsync(pool, o, o.limit, resumable ? RESUMABLE_THEN_PENDING : unlimited("$3"));
  const out = resumable ? await claimAsync(pool, o, o.limit, RESUMABLE) : [];
  if (out.length < o.limit) out.push(...(await claimLimited(pool, o, o.limit - out.length)));
  if (out.length < o.limit) out.push(...(await claimAsync(pool, o, o.limit - out.length, unlimited("$3"))));
  return out;
}

/**
 * Whether a claim could find anything: a pending run due, or an in-flight run with a lease run out or none
 * (RESUMABLE's rows, its sleep grace aside, and every engine's and every workflow's: more than any claim
 * takes, never less). The engine's poll asks this before it claims: the claim is planned at every call (see
 * above), about 4 ms of the database's CPU each second for a poll that finds nothing, while an engine
 * taking its runs from the triggers that create them (RunHandoff) or on NOTIFY almost never leaves the
 * poll anything. Prepared, answered from the two partial indexes.
 */
export async function anyClaimable(db: Queryable, timeoutMs: number): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>({
    name: "skyflow_any_claimable",
    text: `SELECT EXISTS (SELECT 1 FROM skyflow.runs WHERE status = 'pending' AND available_at <= now())
        OR EXISTS (SELECT 1 FROM skyflow.runs WHERE status IN ('running', 'waiting', 'sleeping')
                     AND available_at <= now() AND (lease_until IS NULL OR lease_until < now())) AS any`,
    values: [],
    query_timeout: timeoutMs,
  });
  return rows[0]?.any === true;
}
