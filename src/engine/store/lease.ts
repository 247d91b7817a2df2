// Lease upkeep for the runs an engine holds: periodic renewal (one statement for all of them) and release
// on shutdown, so another engine can resume them at once.
import type { Queryable } from "./enqueue.js";

/**
 * Extends the leases this owner still holds: `renewed`, the runs whose lease now lasts leaseMs from this
 * statement, and `lost`, the runs another engine now holds. A run whose own final or parking save committed
 * meanwhile (no owner, or not running) is in neither: its actor is finishing. Rows that a save of this engine
 * has locked are skipped, not waited for: waiting deadlocked against the group-commit save, which locks its
 * runs in another order (seen in bench/engine.ts); that save extends the lease itself.
 */
export async function renewLeases(
  db: Queryable,
  owner: string,
  ids: string[],
  leaseMs: number,
): Promise<{ renewed: Set<string>; lost: Set<string> }> {
  if (ids.length === 0) return { renewed: new Set(), lost: new Set() };
  const { rows } = await db.query<{ id: string; renewed: boolean }>({
    name: "skyflow_renew_leases",
    text: `WITH renewed AS (
       UPDATE skyflow.runs SET lease_until = now() + $3::int * interval '1 millisecond'
       WHERE id = ANY(ARRAY(SELECT id FROM skyflow.runs
                            WHERE id = ANY($2::uuid[]) AND lease_owner = $1 AND status = 'running'
                            FOR UPDATE SKIP LOCKED))
       RETURNING id
     )
     SELECT id, true AS renewed FROM renewed
     UNION ALL
     SELECT id, false FROM skyflow.runs WHERE id = ANY($2::uuid[]) AND lease_owner <> $1`,
    values: [owner, ids, leaseMs],
    // An answer later than a lease is of no use: by then the engine has stopped these runs (LeaseFence).
    query_timeout: leaseMs,
  });
  const renewed = new Set<string>();
  const lost = new Set<string>();
  for (const r of rows) (r.renewed ? renewed : lost).add(r.id);
  return { renewed, lost };
}

/** Gives runs back to the queue (shutdown): their saved state resumes on whichever engine claims them. */
export async function releaseRuns(db: Queryable, owner: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  // The NOTIFY wakes the other engines: they look for runs to resume on wake-ups and polls, not after
  // each run of theirs ends.
  const { rows } = await db.query<{ n: number }>(
    `WITH released AS (
       UPDATE skyflow.runs SET lease_owner = NULL, lease_until = NULL, status = 'waiting',
         available_at = now(), updated_at = now()
       WHERE id = ANY($2::uuid[]) AND lease_owner = $1 AND status = 'running'
       RETURNING 1
     )
     SELECT count(*)::int AS n, CASE WHEN count(*) > 0 THEN pg_notify('skyflow_runs', '') END FROM released`,
    [owner, ids],
  );
  return rows[0]?.n ?? 0;
}

/** Marks tries left `running` by an interrupted try of this run as interrupted (for the timeline). */
export async function markInterrupted(db: Queryable, runId: string): Promise<void> {
  await db.query(
    `UPDATE skyflow.step_tries SET status = 'interrupted', finished_at = now()
     WHERE run_id = $1 AND status = 'running'`,
    [runId],
  );
}
