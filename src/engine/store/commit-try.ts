// A try recorded as succeeded inside its step's own transaction (skyflow.commit_try, migration 037), and
// read back when a run resumes: such a try is finished, whatever the run's saved state says.
import pg from "pg";
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
}

/** The SQLSTATE commit_try raises when the run is no longer this engine's. */
export const LEASE_LOST_SQLSTATE = "SF409";

const lit = (v: string) => pg.escapeLiteral(v);
const int = (n: number) => String(Math.floor(n));

/**
 * The record of the try and the COMMIT, as one simple query (values as literals): the step's transaction
 * takes no round trip more than its own COMMIT would.
 */
export function commitTryText(t: CommittedTry): string {
  return (
    `SELECT skyflow.commit_try(${lit(t.runId)}::uuid, ${lit(t.owner)}, ${int(t.runAttempt)}, ${lit(t.stepKey)}, ` +
    `${int(t.attempt)}, ${lit(t.kind)}, ${lit(t.output)}::jsonb); COMMIT`
  );
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
