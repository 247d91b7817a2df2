// Parking a run in Postgres (sleep, wait_for, call): one transaction per park, conditional on the run's lease,
// that stores what the run waits for (runs.wait), when it is due (available_at: the wake time or timeout), and
// gives the lease back. No actor, timer or memory stays behind: the claim resumes it (resume.ts). A park
// whose wait is over already (a past time, an event that arrived since the wait began, a child that ended)
// returns the step's output instead. Times are the database's, as the claim's.
import type pg from "pg";
import { withTransaction } from "../../db/pool.js";
import { FatalStepError } from "../../errors.js";
import type { ParkRequest } from "../../steps/park.js";
import { compileExpression } from "../definition/expr.js";
import type { ExprContext, StepDefinition, TriggerEvent, WorkflowDefinition } from "../definition/types.js";
import { runIdFor } from "../ids.js";
import { LeaseLostError, SaveFailed } from "../machine.js";
import type { RunState } from "../state.js";
import { enqueueRuns } from "../store/enqueue.js";
import { snapshotJSON } from "../store/save.js";
import { storable } from "../store/storable.js";
import { recordVersion } from "../store/versions.js";
import { childResult } from "./child.js";
import { incomingKey, matches, type StoredContext } from "./evaluate.js";
import { canonicalJSON, exprId, passesFilter, sourceName, WAIT_LOCK_CLASS } from "./keys.js";
import { splitMatch } from "./match-split.js";
import type { WaitInfo } from "./wait-info.js";

/** Calls nest at most this deep (the loop guard's depth). */
export const MAX_CALL_DEPTH = 5;

export interface ParkContext {
  pool: pg.Pool;
  owner: string;
  runId: string;
  /** The run's loop-guard depth (a child run is one deeper). */
  depth: number;
  def: WorkflowDefinition;
  state: RunState;
  step: StepDefinition;
  attempt: number;
  event: TriggerEvent;
  /** The run's expression context as the step runs (the run side of `match` is evaluated on it). */
  expr: ExprContext;
  env: Record<string, string>;
  /** Workflows a call may start (the engine's catalog). */
  workflow(name: string): WorkflowDefinition | undefined;
  secrets: string[];
}

export type ParkResult = { parked: true; parkMs: number } | { parked: false; output: unknown };

export async function parkRun(p: ParkContext, req: ParkRequest): Promise<ParkResult> {
  if (req.kind === "sleep") return parkSleep(p, req);
  if (req.kind === "wait_for") return parkWait(p, req);
  return parkCall(p, req);
}

type Tx = pg.PoolClient;

/** The DB time the step's wait began (its first try of this run attempt), and the DB's now, in ms. */
async function times(tx: Tx, p: ParkContext): Promise<{ began: number; now: number }> {
  const { rows } = await tx.query<{ began: Date | null; now: Date }>(
    `SELECT (SELECT min(started_at) FROM skyflow.step_tries
              WHERE run_id = $1 AND run_attempt = $2 AND step_key = $3) AS began, clock_timestamp() AS now`,
    [p.runId, p.state.attempt, p.step.key],
  );
  const now = rows[0]!.now.getTime();
  return { began: Math.min(rows[0]!.began?.getTime() ?? now, now), now };
}

/** Hands the run back to the database, parked; throws SaveFailed when the lease is gone. */
async function park(tx: Tx, p: ParkContext, status: string, wait: WaitInfo, dueMs: number): Promise<void> {
  const r = await tx.query(
    `UPDATE skyflow.runs SET status = $3, snapshot = $4::jsonb, wait = $5::jsonb, wake = NULL,
       available_at = CASE WHEN $6::float8 = 'Infinity' THEN 'infinity'::timestamptz ELSE to_timestamp($6::float8 / 1000) END,
       lease_owner = NULL, lease_until = NULL, updated_at = now()
     WHERE id = $1 AND lease_owner = $2`,
    [p.runId, p.owner, status, snapshotJSON(p.state), JSON.stringify(wait), dueMs],
  );
  if (r.rowCount === 0) throw new SaveFailed(new LeaseLostError(p.runId));
}

const iso = (ms: number) => new Date(ms).toISOString();

async function parkSleep(p: ParkContext, req: Extract<ParkRequest, { kind: "sleep" }>): Promise<ParkResult> {
  return withTransaction(p.pool, async (tx) => {
    const t = await times(tx, p);
    const until = req.until ?? t.began + (req.ms ?? 0);
    // A time in the past does not wait (and did not, if it was past when the step began).
    const slept = until <= t.began ? 0 : Math.max(0, t.now - t.began);
    if (until <= t.now) return { parked: false, output: { slept_ms: slept } };
    await park(
      tx,
      p,
      "sleeping",
      { kind: "sleep", step: p.step.key, began: iso(t.began), until: iso(until) },
      until,
    );
    return { parked: true, parkMs: until - t.now };
  });
}

async function parkWait(
  p: ParkContext,
  req: Extract<ParkRequest, { kind: "wait_for" }>,
): Promise<ParkResult> {
  const match = p.step.match;
  const split = match ? splitMatch(match.source) : undefined;
  if (!match || !split)
    throw new FatalStepError(
      "InvalidArgument",
      "wait_for.match: needs an equality between an expression of incoming alone and one without it, joined by && at its top",
    );
  const key = canonicalJSON(
    compileExpression(split.run, { file: match.file, line: match.line, column: match.column }).evaluate(
      p.expr,
    ),
  );
  const source = sourceName(req.source);
  const id = exprId(split.incoming);
  const stored: StoredContext = { event: p.event, steps: p.expr.steps, run: p.expr.run };
  const full = split.rest.length === 0 ? "" : match.source;
  return withTransaction(p.pool, async (tx) => {
    // Orders this park against the processing of events of this source (see match.ts): an event processed
    // before this lock is in wait_events, one processed after it finds this run's row in waits.
    await tx.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [WAIT_LOCK_CLASS, source]);
    const t = await times(tx, p);
    const { rows } = await tx.query<{ event: Record<string, unknown> }>(
      "SELECT event FROM skyflow.wait_events WHERE source = $1 AND at >= $2 ORDER BY id",
      [source, new Date(t.began)],
    );
    const now = new Date(t.now);
    for (const r of rows) {
      if (!passesFilter(req.source, r.event)) continue;
      if (incomingKey(split.incoming, r.event, p.env, now) !== key) continue;
      if (!matches(full, stored, r.event, p.env, now)) continue;
      return { parked: false, output: { event: r.event, timed_out: false } };
    }
    const until = t.began + req.timeoutMs;
    if (until <= t.now) return { parked: false, output: { event: null, timed_out: true } };
    await tx.query(
      "INSERT INTO skyflow.wait_exprs (source, expr_id, expr) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [source, id, split.incoming],
    );
    await tx.query(
      `INSERT INTO skyflow.waits (run_id, source, expr_id, key, step_key, match, filter, ctx, until)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, to_timestamp($9::float8 / 1000))
       ON CONFLICT (run_id, step_key) DO UPDATE SET source = EXCLUDED.source, expr_id = EXCLUDED.expr_id,
         key = EXCLUDED.key, match = EXCLUDED.match, filter = EXCLUDED.filter, ctx = EXCLUDED.ctx,
         until = EXCLUDED.until, event = NULL`,
      [
        p.runId,
        source,
        id,
        key,
        p.step.key,
        full,
        JSON.stringify(req.source),
        JSON.stringify(storable(stored)),
        until,
      ],
    );
    const wait: WaitInfo = {
      kind: "wait_for",
      step: p.step.key,
      began: iso(t.began),
      until: iso(until),
      source,
    };
    await park(tx, p, "waiting", wait, until);
    return { parked: true, parkMs: until - t.now };
  });
}

async function parkCall(p: ParkContext, req: Extract<ParkRequest, { kind: "call" }>): Promise<ParkResult> {
  const { def, event, depth } = callChild(p, p.step.key, p.step.id ?? p.step.key, req);
  return withTransaction(p.pool, async (tx) => {
    const childId = await enqueueChild(tx, p.runId, def, event, depth);
    if (!req.wait) return { parked: false, output: { run: childId } };
    const t = await times(tx, p);
    const wait: WaitInfo = {
      kind: "call",
      step: p.step.key,
      began: iso(t.began),
      child: childId,
      workflow: def.name,
    };
    // Parked first (the row locked), then the child read: a child ending after this statement releases
    // the parent (trigger of migration 060), and one that ended before it is seen below.
    await park(tx, p, "waiting", wait, Number.POSITIVE_INFINITY);
    const done = await childResult(tx, childId);
    if (done) {
      await tx.query("UPDATE skyflow.runs SET available_at = now() WHERE id = $1", [p.runId]);
      return { parked: true, parkMs: 0 };
    }
    return { parked: true, parkMs: Number.POSITIVE_INFINITY };
  });
}

export type CallContext = Pick<ParkContext, "pool" | "runId" | "depth" | "def" | "state" | "workflow">;

/**
 * A call made by an inner step (a foreach item, a parallel branch: inner.ts): the child starts as the
 * top-level call's does, with the inner step's instance key in its event id (so a resumed item starts no
 * second child). Returns the child's run id and workflow.
 */
export async function startCall(
  p: CallContext,
  key: string,
  stepId: string,
  req: Extract<ParkRequest, { kind: "call" }>,
): Promise<{ childId: string; workflow: string }> {
  const { def, event, depth } = callChild(p, key, stepId, req);
  const childId = await withTransaction(p.pool, (tx) => enqueueChild(tx, p.runId, def, event, depth));
  return { childId, workflow: def.name };
}

/**
 * The called workflow, the child run's event and its call depth, or the error that refuses the call. The
 * event id names the calling step's instance key, so a resumed step starts no second child.
 */
function callChild(
  p: Omit<CallContext, "pool">,
  key: string,
  stepId: string,
  req: Extract<ParkRequest, { kind: "call" }>,
): { def: WorkflowDefinition; event: TriggerEvent; depth: number } {
  const def = p.workflow(req.workflow);
  if (!def) throw new FatalStepError("InvalidArgument", `call: no workflow named "${req.workflow}"`);
  if (!def.triggers.some((t) => t.kind === "call"))
    throw new FatalStepError(
      "InvalidArgument",
      `call: workflow "${req.workflow}" has no call trigger (on: call)`,
    );
  const depth = p.depth + 1;
  if (depth > MAX_CALL_DEPTH)
    throw new FatalStepError(
      "CallDepthExceeded",
      `call: ${req.workflow} would nest ${depth} calls deep; calls nest at most ${MAX_CALL_DEPTH} deep`,
    );
  const event: TriggerEvent = {
    id: `call:${p.runId}:${p.state.attempt}:${key}`,
    type: "call",
    at: new Date().toISOString(),
    input: storable(req.input),
    parent: { run: p.runId, workflow: p.def.name, step: stepId },
  };
  return { def, event, depth };
}

/** Enqueues the child run in `tx`, linked to its parent, and wakes the engines; returns its run id. */
async function enqueueChild(
  tx: pg.PoolClient,
  parentId: string,
  def: WorkflowDefinition,
  event: TriggerEvent,
  depth: number,
): Promise<string> {
  const childId = runIdFor(def.name, event.id);
  await recordVersion(tx, def);
  await enqueueRuns(tx, [{ workflow: def.name, version: def.version, event, depth }]);
  await tx.query("UPDATE skyflow.runs SET parent_id = $2 WHERE id = $1 AND parent_id IS NULL", [
    childId,
    parentId,
  ]);
  await tx.query("NOTIFY skyflow_runs");
  return childId;
}
