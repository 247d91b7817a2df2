// Waits of inner steps (a sleep, wait_for or call inside a foreach item or a parallel branch; tree.ts drives
// them): `beginInner` registers one durably (a wait_for's row in `waits`, found by the same lookup as a
// top-level one and checked against the events since it began; a call's child run), `checkInner` reads
// whether it is over, and `parkInside` parks the run once every inner step in flight waits. An inner
// wait_for's row keeps its outcome (`event`: the releasing event, or JSON null for a timeout) until its
// container ends, so a run stopped before saving that outcome reads the same one again.
import type pg from "pg";
import { withTransaction } from "../../db/pool.js";
import { FatalStepError } from "../../errors.js";
import type { ParkRequest } from "../../steps/park.js";
import { compileExpression } from "../definition/expr.js";
import type { ExprContext, StepDefinition } from "../definition/types.js";
import { LeaseLostError, SaveFailed } from "../machine.js";
import type { RunState } from "../state.js";
import { snapshotJSON } from "../store/save.js";
import { storable } from "../store/storable.js";
import { childFailed, childResult } from "./child.js";
import { incomingKey, matches, type StoredContext, storedJSON } from "./evaluate.js";
import { canonicalJSON, exprId, passesFilter, sourceName, WAIT_LOCK_CLASS } from "./keys.js";
import { splitMatch } from "./match-split.js";
import { type CallContext, startCall } from "./park.js";
import { changesBefore } from "./resume.js";
import type { WaitInfo } from "./wait-info.js";

/** What an inner step's wait is over with: its output, or the error that fails it (a child that failed). */
export type InnerEnd = { output: unknown } | { error: FatalStepError };

export interface InnerContext extends Omit<CallContext, "state"> {
  owner: string;
  env: Record<string, string>;
  /**
   * The engine's clock: inner waits are timed on it, as the inner steps' timeouts and retries are (so a
   * test's manual clock moves them); the parked run's due time is stored relative to the database's now.
   */
  now(): number;
}

/** One inner step about to wait: its instance key, definition, request and expression context. */
export interface InnerStep {
  key: string;
  step: StepDefinition;
  req: ParkRequest;
  /** Its expression context (the item's names included: `locals`). */
  expr: ExprContext;
  locals: Record<string, unknown>;
  /** The wait it began before the run stopped (kept times, the same child): registered again as it was. */
  prior?: WaitInfo;
  /** The run's state (its attempt names a call's child). */
  state: RunState;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Registers an inner step's wait, or ends it at once when what it waits for is there already. `dueMs`: the
 * time left until it is due (a sleep's end, a wait_for's timeout; Infinity for a call).
 */
export async function beginInner(
  p: InnerContext,
  s: InnerStep,
): Promise<InnerEnd | { wait: WaitInfo; dueMs: number }> {
  if (s.req.kind === "sleep") {
    const now = p.now();
    const began = s.prior ? Date.parse(s.prior.began) : now;
    const until = s.prior?.until
      ? Date.parse(s.prior.until)
      : s.req.ms !== undefined
        ? began + s.req.ms
        : Math.max(began, s.req.until ?? began);
    if (until <= now) return { output: { slept_ms: until - began } };
    return { wait: { kind: "sleep", step: s.key, began: iso(began), until: iso(until) }, dueMs: until - now };
  }
  if (s.req.kind === "wait_for") return beginWait(p, s, s.req);
  const req = s.req;
  const { childId, workflow } = await startCall(
    { ...p, state: s.state },
    s.key,
    s.step.id ?? s.step.key,
    req,
  );
  if (!req.wait) return { output: { run: childId } };
  const began = s.prior?.began ?? iso(p.now());
  const end = await childEnd(p.pool, childId);
  if (end) return end;
  return {
    wait: { kind: "call", step: s.key, began, child: childId, workflow },
    dueMs: Number.POSITIVE_INFINITY,
  };
}

/** An inner wait_for: its row in `waits` (under the source's lock, after the events since it began). */
async function beginWait(
  p: InnerContext,
  s: InnerStep,
  req: Extract<ParkRequest, { kind: "wait_for" }>,
): Promise<InnerEnd | { wait: WaitInfo; dueMs: number }> {
  const match = s.step.match;
  const names = Object.keys(s.locals);
  const split = match ? splitMatch(match.source, names) : undefined;
  if (!match || !split)
    throw new FatalStepError(
      "InvalidArgument",
      "wait_for.match: needs an equality between an expression of incoming alone and one without it, joined by && at its top",
    );
  const loc = { file: match.file, line: match.line, column: match.column, names };
  const key = canonicalJSON(compileExpression(split.run, loc).evaluate(s.expr));
  const source = sourceName(req.source);
  const id = exprId(split.incoming);
  const stored: StoredContext = {
    event: s.expr.event,
    steps: s.expr.steps,
    run: s.expr.run,
    ...(names.length > 0 ? { locals: s.locals } : {}),
  };
  const full = split.rest.length === 0 ? "" : match.source;
  return withTransaction(p.pool, async (tx) => {
    // As a top-level wait (park.ts): an event processed before this lock is in wait_events, one processed
    // after it finds this row.
    await tx.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [WAIT_LOCK_CLASS, source]);
    const now = p.now();
    const began = s.prior ? Date.parse(s.prior.began) : now;
    const until = began + req.timeoutMs;
    // Its outcome, when a release or a timeout reached its row before the run stopped.
    const { rows: kept } = await tx.query<{ open: boolean; event: unknown }>(
      "SELECT event IS NULL AS open, event FROM skyflow.waits WHERE run_id = $1 AND step_key = $2",
      [p.runId, s.key],
    );
    if (kept[0] && !kept[0].open) return waitEnd(kept[0].event);
    const { rows } = await tx.query<{ event: Record<string, unknown> }>(
      "SELECT event FROM skyflow.wait_events WHERE source = $1 AND at >= $2 ORDER BY id",
      [source, new Date(began)],
    );
    const at = new Date(now);
    const hit = rows.find(
      (r) =>
        passesFilter(req.source, r.event) &&
        incomingKey(split.incoming, r.event, p.env, at) === key &&
        matches(full, stored, r.event, p.env, at),
    );
    // Past its timeout (a run resumed late): timed out, unless record changes from before it are still in
    // the trigger's outbox (then checkInner decides, once they are through).
    const wait: WaitInfo = { kind: "wait_for", step: s.key, began: iso(began), until: iso(until), source };
    const outcome = hit ? hit.event : until <= now && !(await changesBefore(tx, wait)) ? null : undefined;
    await tx.query(
      "INSERT INTO skyflow.wait_exprs (source, expr_id, expr) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [source, id, split.incoming],
    );
    await tx.query(
      `INSERT INTO skyflow.waits (run_id, source, expr_id, key, step_key, match, filter, ctx, until, inner_step, event)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, to_timestamp($9::float8 / 1000), true, $10::jsonb)
       ON CONFLICT (run_id, step_key) DO UPDATE SET source = EXCLUDED.source, expr_id = EXCLUDED.expr_id,
         key = EXCLUDED.key, match = EXCLUDED.match, filter = EXCLUDED.filter, ctx = EXCLUDED.ctx,
         until = EXCLUDED.until, inner_step = true, event = EXCLUDED.event`,
      [
        p.runId,
        source,
        id,
        key,
        s.key,
        full,
        JSON.stringify(req.source),
        storedJSON(storable(stored) as StoredContext),
        until,
        outcome === undefined ? null : JSON.stringify(outcome),
      ],
    );
    if (outcome !== undefined) return waitEnd(outcome);
    return { wait, dueMs: Math.max(0, until - now) };
  });
}

function waitEnd(event: unknown): InnerEnd {
  return { output: event === null ? { event: null, timed_out: true } : { event, timed_out: false } };
}

async function childEnd(db: pg.Pool | pg.ClientBase, childId: string): Promise<InnerEnd | undefined> {
  const end = await childResult(db, childId);
  if (!end) return undefined;
  return end.status === "succeeded" ? { output: end.output } : { error: childFailed(end) };
}

/** Whether a registered inner wait_for or call is over; undefined while it is not. (Sleeps keep time.) */
export async function checkInner(p: InnerContext, w: WaitInfo): Promise<InnerEnd | undefined> {
  if (w.kind === "call") return childEnd(p.pool, w.child!);
  if (w.kind !== "wait_for") return undefined;
  const { rows } = await p.pool.query<{ open: boolean; event: unknown }>(
    "SELECT event IS NULL AS open, event FROM skyflow.waits WHERE run_id = $1 AND step_key = $2",
    [p.runId, w.step],
  );
  const r = rows[0];
  if (!r) throw new FatalStepError("InternalError", `wait_for ${w.step}: its wait is gone`);
  if (!r.open) return waitEnd(r.event);
  if (Date.parse(w.until!) > p.now()) return undefined;
  // Record changes made before the timeout still in the trigger's outbox go first (as resume.ts does).
  if (await changesBefore(p.pool, w)) return undefined;
  // The timeout, unless a release reached the row first: the row keeps which one won.
  const t = await p.pool.query(
    `UPDATE skyflow.waits SET event = 'null'::jsonb
     WHERE run_id = $1 AND step_key = $2 AND event IS NULL`,
    [p.runId, w.step],
  );
  return t.rowCount === 1 ? waitEnd(null) : checkInner(p, w);
}

/**
 * Drops the wait rows of the run's inner steps once their container has ended (only one top-level
 * container runs at a time: every inner row of the run is its).
 */
export async function dropInnerWaits(pool: pg.Pool, runId: string): Promise<void> {
  await pool.query("DELETE FROM skyflow.waits WHERE run_id = $1 AND inner_step", [runId]);
}

const NOT_PARKED = new Error("an inner wait is over: not parked");

/**
 * Parks the run while each of its inner steps in flight waits: one row of runs.wait naming the first due
 * (as a top-level wait does, for `runs show`) with every wait in `inner`, due at the earliest due time.
 * Under the locks of the wait_for sources, so an event either finds the run parked (and makes it due) or
 * is on a row this reads. Returns ms until due, or undefined (not parked) when a wait is over already.
 */
export async function parkInside(
  p: Pick<InnerContext, "pool" | "owner" | "runId" | "now">,
  state: RunState,
  waits: WaitInfo[],
): Promise<number | undefined> {
  const sources = [...new Set(waits.flatMap((w) => (w.kind === "wait_for" ? [w.source!] : [])))].sort();
  const children = waits.flatMap((w) => (w.kind === "call" ? [w.child!] : []));
  const dueOf = (w: WaitInfo) => (w.until ? Date.parse(w.until) : Number.POSITIVE_INFINITY);
  const first = [...waits].sort((a, b) => dueOf(a) - dueOf(b))[0]!;
  const due = dueOf(first);
  const wait = { ...first, inner: waits, ...(children.length > 0 ? { children } : {}) };
  const status = waits.every((w) => w.kind === "sleep") ? "sleeping" : "waiting";
  try {
    return await withTransaction(p.pool, async (tx) => {
      for (const s of sources)
        await tx.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [WAIT_LOCK_CLASS, s]);
      const now = p.now();
      if (due <= now) throw NOT_PARKED;
      const r = await tx.query(
        `UPDATE skyflow.runs SET status = $3, snapshot = $4::jsonb, wait = $5::jsonb, wake = NULL,
           available_at = CASE WHEN $6::float8 = 'Infinity' THEN 'infinity'::timestamptz
                               ELSE now() + $6::float8 * interval '1 millisecond' END,
           lease_owner = NULL, lease_until = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
        [p.runId, p.owner, status, snapshotJSON(state), JSON.stringify(wait), due - now],
      );
      if (r.rowCount === 0) throw new SaveFailed(new LeaseLostError(p.runId));
      const { rows } = await tx.query(
        "SELECT 1 FROM skyflow.waits WHERE run_id = $1 AND step_key = ANY($2::text[]) AND event IS NOT NULL LIMIT 1",
        [p.runId, waits.map((w) => w.step)],
      );
      if (rows.length > 0) throw NOT_PARKED;
      // Parked first (the row locked), then the children read FOR SHARE: a child whose end is being saved
      // (its trigger found this run still running) is waited for and read as ended; one ending after this
      // waits for this commit, and its trigger then makes the run due.
      const { rows: kids } = await tx.query<{ status: string }>(
        "SELECT status FROM skyflow.runs WHERE id = ANY($1::uuid[]) FOR SHARE",
        [children],
      );
      if (kids.some((k) => ["succeeded", "failed", "cancelled"].includes(k.status))) throw NOT_PARKED;
      return due - now;
    });
  } catch (err) {
    if (err === NOT_PARKED) return undefined;
    throw err;
  }
}
