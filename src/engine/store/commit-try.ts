// A try recorded as succeeded inside its step's own transaction (migrations 090 and 105),
// and read back when a run resumes: such a try is finished, whatever the run's saved state says. With a
// state, the run's row takes it in that same transaction (the run's end, or a first try whose begin was not
// saved: see runner.ts).
import type pg from "pg";
import { BY_KEY, commitWith, type Statement, setLocalsOf } from "../../db/pool.js";
import type { SharedCommit } from "../../steps/types.js";
import type { Queryable } from "./enqueue.js";

export interface CommittedTry {
  runId: string;
  owner: string;
  runAttempt: number;
  stepKey: string;
  attempt: number;
  kind: string;
  /** JSON text. */
  output: string;
  /** The claim the try ran under (ClaimedRun.claims); null skips that check. */
  claims?: number | null;
  /** JSON text: the try's input, for a row first written here (its begin was not saved). */
  input?: string | null;
  /** The run's state after the try, stored with it (save.ts runFields); absent: the run's row is left as is. */
  state?: { snapshot: string; status: string; error: string | null };
}

/** The SQLSTATE commit_try raises when the run is no longer this engine's. */
export const LEASE_LOST_SQLSTATE = "SF409";

const COMMIT_TRY =
  "SELECT skyflow.commit_try_state($1::uuid, $2, $3::int, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12::jsonb)";

/**
 * With a state: commit_try_state's (migration 090) in one statement (migration 105). The run's row is written
 * only while it is this engine's under the try's claim, and the try's row only once the run's is: when the
 * run's was not, skyflow.lease_lost raises and the step's transaction rolls back. The lease is checked in the
 * UPDATE, which locks the row as it writes it (a concurrent change is waited for, and the row then checked
 * again). `status || ''`: the prepared statement's generic plan must find the row by its primary key; with a
 * plain `status = 'running'` it can read it through runs_in_flight instead, stepping over every run in
 * flight (see migration 090). A null run id, which no run has, writes nothing and raises nothing: the
 * warm-up's (commitTryNothing).
 */
export const COMMIT_TRY_END = `WITH run AS (
    UPDATE skyflow.runs SET snapshot = $10::jsonb, status = $11::text, error = $12::jsonb,
      lease_owner = CASE WHEN $11::text = 'running' THEN lease_owner END,
      lease_until = CASE WHEN $11::text = 'running' THEN lease_until END,
      finished_at = CASE WHEN $11::text IN ('succeeded', 'failed', 'cancelled') THEN now() END,
      updated_at = now()
    WHERE id = $1::uuid AND lease_owner = $2::text AND status || '' = 'running'
      AND ($3::int IS NULL OR claims = $3::int)
    RETURNING id),
  try AS (
    INSERT INTO skyflow.step_tries AS s
      (run_id, run_attempt, step_key, attempt, kind, status, input, output, started_at, finished_at)
    SELECT id, $4::int, $5::text, $6::int, $7::text, 'succeeded', $8::jsonb, $9::jsonb, now(), clock_timestamp()
    FROM run
    ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE SET
      status = 'succeeded', output = EXCLUDED.output, error = NULL, finished_at = EXCLUDED.finished_at,
      input = coalesce(s.input, EXCLUDED.input)
    RETURNING 1)
  SELECT skyflow.lease_lost($1::uuid) FROM (SELECT count(*) AS n FROM try) AS written
  WHERE n = 0 AND $1::uuid IS NOT NULL`;

/** How a try's record is planned (see commitTry). */
export const RECORD_PLANNING = BY_KEY;
const RECORD_SET_LOCALS = setLocalsOf(RECORD_PLANNING);

/**
 * The try's record with no run (a null id, which no row has): it writes nothing and raises nothing, and
 * prepares the statement where it runs, planned as a try's record is (db/pool.ts warmPool, RECORD_PLANNING).
 * A fresh backend's first record of a try took 5 ms (parse 1.1, bind 0.5, execute 3.5: the runs' and
 * step_tries' catalog entries and indexes opened) against 0.3 after, on each of the first runs' connections.
 * Its other values are of their types, not null: their input functions are looked up at a first bind too.
 */
export function commitTryNothing(): Statement {
  return tryRecord({
    runId: null,
    owner: "",
    runAttempt: 0,
    stepKey: "",
    attempt: 0,
    kind: "",
    input: "{}",
    output: "{}",
    state: { snapshot: "{}", status: "succeeded", error: "null" },
  });
}

/** The statement recording `t` (COMMIT_TRY_END with a state, else commit_try_state), its values bound. */
function tryRecord(t: Omit<CommittedTry, "runId"> & { runId: string | null }): Statement {
  return {
    ...(t.state
      ? { name: "skyflow_commit_try_end", text: COMMIT_TRY_END }
      : { name: "skyflow_commit_try_state", text: COMMIT_TRY }),
    values: [
      t.runId,
      t.owner,
      t.claims ?? null,
      Math.floor(t.runAttempt),
      t.stepKey,
      Math.floor(t.attempt),
      t.kind,
      t.input ?? null,
      t.output,
      t.state?.snapshot ?? null,
      t.state?.status ?? null,
      t.state?.error ?? null,
    ],
  };
}

/**
 * Records the try and commits the step's transaction on `client`: both in one round trip (pipelined, the
 * values bound), so the step's transaction takes no round trip more than its own COMMIT would. A shared
 * transaction sends the record with its members' and that one COMMIT. The record is planned without a
 * sequential scan (db/pool.ts INDEX_SCANS, set after the step's own statements, which are planned as
 * their author expects): a connection's generic plan of COMMIT_TRY_END, built while the runs table looked
 * a page or two long (a fresh install, or after a VACUUM of it empty), read the whole table for a run's row
 * at every commit after, as the table grew. It runs its generic plan (db/pool.ts GENERIC_PLANS): Postgres
 * otherwise planned it anew at a connection's first commits, and at more on some, about 0.2 ms each.
 */
export async function commitTry(client: pg.PoolClient | SharedCommit, t: CommittedTry): Promise<void> {
  const s = tryRecord(t);
  if ("commitWith" in client) return client.commitWith(s, RECORD_SET_LOCALS);
  await commitWith(client, s, undefined, RECORD_SET_LOCALS);
}

/** The try's output when it was recorded as succeeded; undefined when it was not. */
export async function committedOutput(
  db: Queryable,
  runId: string,
  runAttempt: number,
  stepKey: string,
  attempt: number,
): Promise<{ output: unknown } | undefined> {
  const { rows } = await db.query<{ output: unknown }>(
    `SELECT output FROM skyflow.step_tries
     WHERE run_id = $1 AND run_attempt = $2 AND step_key = $3 AND attempt = $4 AND status = 'succeeded'`,
    [runId, runAttempt, stepKey, attempt],
  );
  return rows[0] ? { output: rows[0].output ?? {} } : undefined;
}
