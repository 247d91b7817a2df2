// A called child run as its parent's `call` step sees it once it has ended: its output (the top-level
// `output`, else its last step's), or its error for ChildRunFailed.
import { FatalStepError } from "../../errors.js";
import type { Queryable } from "../store/enqueue.js";

export interface ChildEnd {
  id: string;
  workflow: string;
  status: "succeeded" | "failed" | "cancelled";
  output: unknown;
  error: { name: string; message: string; step?: string } | null;
}

/** The child's end, or undefined while it has not ended. */
export async function childResult(db: Queryable, childId: string): Promise<ChildEnd | undefined> {
  const { rows } = await db.query<{
    workflow: string;
    status: string;
    output: unknown;
    error: ChildEnd["error"];
    last: unknown;
  }>(
    // The top-level `output` is in the saved state; without it, the try of the step the state names
    // (`returnsStep`, the workflow's last step: see state.ts), else the last try that succeeded.
    `SELECT r.workflow, r.status, r.error,
            CASE WHEN r.snapshot ? 'output' THEN r.snapshot->'output' ELSE r.output END AS output,
            (SELECT t.output FROM skyflow.step_tries t
              WHERE t.run_id = r.id AND t.status = 'succeeded'
                AND t.step_key = coalesce(r.snapshot->>'returnsStep', t.step_key)
              ORDER BY t.run_attempt DESC, t.finished_at DESC NULLS LAST LIMIT 1) AS last
     FROM skyflow.runs r WHERE r.id = $1`,
    [childId],
  );
  const r = rows[0];
  if (!r || !["succeeded", "failed", "cancelled"].includes(r.status)) return undefined;
  return {
    id: childId,
    workflow: r.workflow,
    status: r.status as ChildEnd["status"],
    output: r.output ?? r.last ?? null,
    error: r.error,
  };
}

/** The call step's error for a child that did not succeed. */
export function childFailed(c: ChildEnd): FatalStepError {
  const why = c.error ? `${c.error.name}: ${c.error.message}` : c.status;
  return new FatalStepError("ChildRunFailed", `child run ${c.id} (${c.workflow}) ${c.status}: ${why}`, {
    info: { run: c.id, workflow: c.workflow, error: c.error },
  });
}
