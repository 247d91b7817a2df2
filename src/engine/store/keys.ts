// Concurrency keys of queued runs that their producer left empty (a trigger that did not evaluate
// `concurrency.key`): evaluated here, at claim time, so runs of one key queue together. A key that
// evaluates to null is stored as '' to mark it evaluated.

import { concurrencyKeyFor } from "../concurrency.js";
import { EVAL_BUDGET_MS } from "../definition/eval-budget.js";
import type { TriggerEvent, WorkflowDefinition } from "../definition/types.js";
import type { Queryable } from "./enqueue.js";

export async function fillConcurrencyKeys(
  db: Queryable,
  defs: WorkflowDefinition[],
  env: Record<string, string>,
): Promise<number> {
  const keyed = defs.filter((d) => d.concurrency?.key);
  if (keyed.length === 0) return 0;
  const { rows } = await db.query<{ id: string; workflow: string; event: TriggerEvent }>(
    `SELECT id, workflow, event FROM skyflow.runs
     WHERE status = 'pending' AND concurrency_key IS NULL AND workflow = ANY($1::text[])
     ORDER BY seq LIMIT 1000`,
    [keyed.map((d) => d.name)],
  );
  if (rows.length === 0) return 0;
  const byName = new Map(keyed.map((d) => [d.name, d]));
  // Each key's evaluation is bounded (TRIGGER_BUDGET_MS); the batch is too, so that a costly key expression
  // holds the event loop at most about EVAL_BUDGET_MS per call. Rows left over wait for the next claim.
  const until = performance.now() + EVAL_BUDGET_MS;
  const done: { id: string; key: string }[] = [];
  for (const r of rows) {
    if (done.length > 0 && performance.now() > until) break;
    let key = "";
    try {
      key = concurrencyKeyFor(byName.get(r.workflow)!, r.event, { env, runId: r.id }) ?? "";
    } catch {}
    done.push({ id: r.id, key });
  }
  await db.query(
    `UPDATE skyflow.runs r SET concurrency_key = k.key
     FROM unnest($1::uuid[], $2::text[]) AS k(id, key)
     WHERE r.id = k.id AND r.concurrency_key IS NULL`,
    [done.map((r) => r.id), done.map((r) => r.key)],
  );
  return done.length;
}
