// The durable saves of a run in flight: one statement per transition, conditional on this engine still
// holding the run's lease, with the step try row written in the same statement (so both or neither).
import type { TryResult } from "../machine.js";
import type { RunState } from "../state.js";
import { isTerminal } from "../state.js";
import type { Queryable } from "./enqueue.js";

export interface SaveTarget {
  runId: string;
  owner: string;
}

/** How the run row changes with a saved state. */
function runUpdate(first: number): string {
  return `UPDATE skyflow.runs SET
      snapshot = $${first}::jsonb,
      status = $${first + 1},
      error = $${first + 2}::jsonb,
      available_at = CASE WHEN $${first + 3}::int IS NULL THEN available_at
                          ELSE now() + $${first + 3}::int * interval '1 millisecond' END,
      lease_owner = CASE WHEN $${first + 1} IN ('running') THEN lease_owner END,
      lease_until = CASE WHEN $${first + 1} IN ('running') THEN lease_until END,
      finished_at = CASE WHEN $${first + 1} IN ('succeeded', 'failed', 'cancelled') THEN now() END,
      updated_at = now()
    WHERE id = $1 AND lease_owner = $2
    RETURNING id`;
}

function runValues(state: RunState, parkMs: number | undefined): unknown[] {
  const status = parkMs !== undefined ? "waiting" : state.status;
  const error = isTerminal(state.status) && state.error ? JSON.stringify(state.error) : null;
  return [JSON.stringify(state), status, error, parkMs ?? null];
}

/** Saves the state as a try begins, with the try's (redacted) input. Returns false when the lease is gone. */
export async function saveBegin(
  db: Queryable,
  t: SaveTarget,
  state: RunState,
  tr: { stepKey: string; kind: string; attempt: number; input: unknown },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH r AS (${runUpdate(3)})
     INSERT INTO skyflow.step_tries (run_id, run_attempt, step_key, attempt, kind, status, input)
     SELECT r.id, $7, $8, $9, $10, 'running', $11::jsonb FROM r
     ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE
       SET status = 'running', input = EXCLUDED.input, started_at = now(), finished_at = NULL`,
    [
      t.runId,
      t.owner,
      ...runValues(state, undefined),
      state.attempt,
      tr.stepKey,
      tr.attempt,
      tr.kind,
      json(tr.input),
    ],
  );
  return rowCount === 1;
}

/** Saves the state after a transition, ending the try row when there is one. False when the lease is gone. */
export async function saveState(
  db: Queryable,
  t: SaveTarget,
  state: RunState,
  opts: { result?: TryResult; parkMs?: number } = {},
): Promise<boolean> {
  const r = opts.result;
  if (!r || r.status === "skipped") {
    const { rowCount } = await db.query(runUpdate(3), [t.runId, t.owner, ...runValues(state, opts.parkMs)]);
    return rowCount === 1;
  }
  const { rowCount } = await db.query(
    `WITH r AS (${runUpdate(3)})
     INSERT INTO skyflow.step_tries (run_id, run_attempt, step_key, attempt, kind, status, output, error, finished_at)
     SELECT r.id, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, now() FROM r
     ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE
       SET status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error, finished_at = now()`,
    [
      t.runId,
      t.owner,
      ...runValues(state, opts.parkMs),
      state.attempt,
      r.stepKey,
      r.attempt,
      r.kind,
      r.status === "retrying" ? "failed" : r.status,
      r.output === undefined ? null : json(r.output),
      r.error ? JSON.stringify(r.error) : null,
    ],
  );
  return rowCount === 1;
}

function json(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}
