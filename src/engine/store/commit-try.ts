// A try recorded as succeeded inside its step's own transaction (skyflow.commit_try, migration 037), and
// read back when a run resumes: such a try is finished, whatever the run's saved state says.
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
}

/** The SQLSTATE commit_try raises when the run is no longer this engine's. */
export const LEASE_LOST_SQLSTATE = "SF409";

const COMMIT_TRY = "SELECT skyflow.commit_try($1::uuid, $2, $3, $4, $5, $6, $7::jsonb, $8::int)";

/**
 * Records the try and commits the step's transaction on `client`: both in one round trip (pipelined, the
 * values bound), so the step's transaction takes no round trip more than its own COMMIT would.
 */
export async function commitTry(client: pg.PoolClient, t: CommittedTry): Promise<void> {
  await commitWith(client, {
    name: "skyflow_commit_try",
    text: COMMIT_TRY,
    values: [
      t.runId,
      t.owner,
      Math.floor(t.runAttempt),
      t.stepKey,
      Math.floor(t.attempt),
      t.kind,
      t.output,
      t.claims ?? null,
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
