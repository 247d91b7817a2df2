// Inserts new runs into the queue, idempotently on (workflow, event id). Triggers call it inside the same
// transaction that claims their outbox rows, so a claimed change and its run commit together.
import { randomUUID } from "node:crypto";
import type { TriggerEvent } from "../definition/types.js";

export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface NewRun {
  workflow: string;
  /** The workflow version (content hash) the run starts on; it must be in skyflow.workflow_versions. */
  version: string;
  event: TriggerEvent;
  /** How many runs' writes led to this one (the loop guard); 0 for outside events. */
  depth?: number;
  concurrencyKey?: string | null;
}

/**
 * Returns the runs actually created (an event id already seen for that workflow creates nothing). Runs are
 * numbered (`seq`) in the order given, which claims follow.
 */
export async function enqueueRuns(
  db: Queryable,
  runs: NewRun[],
): Promise<{ id: string; workflow: string; eventId: string }[]> {
  if (runs.length === 0) return [];
  const { rows } = await db.query<{ id: string; workflow: string; event_id: string }>(
    `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, depth, concurrency_key)
     SELECT id, workflow, version, event_id, event, depth, concurrency_key
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[], $7::text[])
       WITH ORDINALITY AS u(id, workflow, version, event_id, event, depth, concurrency_key, ord)
     ORDER BY ord
     ON CONFLICT (workflow, event_id) DO NOTHING
     RETURNING id, workflow, event_id`,
    [
      runs.map(() => randomUUID()),
      runs.map((r) => r.workflow),
      runs.map((r) => r.version),
      runs.map((r) => r.event.id),
      runs.map((r) => JSON.stringify(r.event)),
      runs.map((r) => r.depth ?? 0),
      runs.map((r) => r.concurrencyKey ?? null),
    ],
  );
  return rows.map((r) => ({ id: r.id, workflow: r.workflow, eventId: r.event_id }));
}
