// A try recorded as succeeded inside its step's own transaction (skyflow.commit_try_state, migration 090),
// and read back when a run resumes: such a try is finished, whatever the run's saved state says. With a
// state, the run's row takes it in that same transaction (the run's end, or a first try whose begin was not
// saved: see runner.ts).
import type pg from "pg";
import { commitWith } from "../../db/pool.js";
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
 * Records the try and commits the step's transaction on `client`: both in one round trip (pipelined, the
 * values bound), so the step's transaction takes no round trip more than its own COMMIT would.
 */
export async function commitTry(client: pg.PoolClient, t: CommittedTry): Promise<void> {
  await commitWith(client, {
    name: "skyflow_commit_try_state",
    text: COMMIT_TRY,
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
  });
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
