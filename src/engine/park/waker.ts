// Finding parked runs' due times: each engine, after looking for runs to resume, asks when the next parked
// run falls due (any engine's) and sets its one wake timer for then, so a sleep ends on time whichever
// engine parked it. One indexed read per sweep; no timer per run. Also the parked-run counts for metrics.
import type { Queryable } from "../store/enqueue.js";

/** Ms until the earliest parked run falls due (none: undefined); runs due now are claimed already. */
export async function nextDueMs(db: Queryable): Promise<number | undefined> {
  const { rows } = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(available_at) - clock_timestamp()) * 1000)::float8 AS ms
     FROM skyflow.runs WHERE status IN ('sleeping', 'waiting') AND available_at > now()
       AND available_at < 'infinity'`,
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : Math.max(0, ms);
}

/** Parked runs by what they wait for: sleep, wait_for, call, or retry (a retry's delay). */
export async function parkedCounts(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ k: string; n: number }>(
    `SELECT CASE WHEN wait IS NULL THEN 'retry' ELSE wait->>'kind' END AS k, count(*)::int AS n
     FROM skyflow.runs WHERE status IN ('sleeping', 'waiting') GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}
