// Cron trigger: every SQL statement it runs, one function each.
import type { Statement } from "../../../db/pool.js";
import type { Queryable } from "../../store/enqueue.js";
import type { DueSchedule } from "./match.js";
import type { CronSchedule } from "./parse.js";

/** A row of skyflow.cron_schedules (the shape match.ts plans fires from). */
export type ScheduleRow = DueSchedule;

/**
 * Makes the table hold exactly `list`: new schedules start at `nextAt(s)`, existing ones keep their next
 * fire time (so catch_up sees what was missed while no engine ran) and take the new options.
 */
export async function syncSchedules(
  db: Queryable,
  list: CronSchedule[],
  nextAt: (s: CronSchedule) => Date | null,
): Promise<void> {
  const live = list.map((s) => ({ s, next: nextAt(s) })).filter((x) => x.next !== null);
  const col = <T>(f: (x: (typeof live)[number]) => T): T[] => live.map(f);
  await db.query(
    `DELETE FROM skyflow.cron_schedules c WHERE NOT EXISTS (
       SELECT 1 FROM unnest($1::text[], $2::text[]) d(w, k) WHERE d.w = c.workflow AND d.k = c.schedule_key)`,
    [col((x) => x.s.workflow), col((x) => x.s.key)],
  );
  await db.query(
    `INSERT INTO skyflow.cron_schedules
       (workflow, schedule_key, schedule, timezone, catch_up, overlap, version, next_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::timestamptz[])
     ON CONFLICT (workflow, schedule_key) DO UPDATE SET catch_up = EXCLUDED.catch_up,
       overlap = EXCLUDED.overlap, version = EXCLUDED.version, updated_at = now()
     WHERE (cron_schedules.catch_up, cron_schedules.overlap, cron_schedules.version)
       IS DISTINCT FROM (EXCLUDED.catch_up, EXCLUDED.overlap, EXCLUDED.version)`,
    [
      col((x) => x.s.workflow),
      col((x) => x.s.key),
      col((x) => x.s.schedule),
      col((x) => x.s.timezone),
      col((x) => x.s.catchUp),
      col((x) => x.s.overlap),
      col((x) => x.s.version),
      col((x) => x.next!.toISOString()),
    ],
  );
}

/**
 * The statement locking up to `limit` due schedules; SKIP LOCKED lets several engines share the work. Its
 * values are bound; it shares a round trip with BEGIN (pipelined, see db/pool.ts).
 */
export function claimDue(now: Date, limit: number): Statement {
  return {
    name: "skyflow_claim_due",
    text: `SELECT workflow, schedule_key, schedule, timezone, catch_up, overlap, next_at
     FROM skyflow.cron_schedules WHERE next_at <= $1::timestamptz
     ORDER BY next_at FOR UPDATE SKIP LOCKED LIMIT $2`,
    values: [now.toISOString(), Math.floor(limit)],
  };
}

/** The earliest stored next fire time, for the timer's sleep. */
export async function earliestNext(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ t: Date | null }>("SELECT min(next_at) AS t FROM skyflow.cron_schedules");
  return rows[0]?.t ?? null;
}

/** Schedules (workflow + key) that still have a run pending or running. */
export async function busySchedules(
  db: Queryable,
  workflows: string[],
  keys: string[],
): Promise<Set<string>> {
  if (workflows.length === 0) return new Set();
  const { rows } = await db.query<{ w: string; k: string }>(
    `SELECT DISTINCT d.w, d.k FROM unnest($1::text[], $2::text[]) d(w, k)
     WHERE EXISTS (SELECT 1 FROM skyflow.runs r WHERE r.workflow = d.w
       AND r.status IN ('pending', 'running', 'waiting', 'sleeping') AND r.event->>'type' = 'cron'
       AND (r.event->>'schedule') || '|' || (r.event->>'timezone') = d.k)`,
    [workflows, keys],
  );
  return new Set(rows.map((r) => `${r.w}\u0000${r.k}`));
}

export interface FireRow {
  workflow: string;
  scheduledAt: Date;
  key: string;
  outcome: "started" | "skipped_overlap";
  runId: string | null;
}

/**
 * Records fires; returns the ones this call recorded. The schedule row's lock already keeps two engines
 * off one schedule; the unique key is the last line of defence, with the run's own event-id idempotency.
 */
export async function recordFires(db: Queryable, fires: FireRow[], owner: string): Promise<FireRow[]> {
  if (fires.length === 0) return [];
  const { rows } = await db.query<{ workflow: string; scheduled_at: Date }>(
    `INSERT INTO skyflow.cron_fires (workflow, scheduled_at, schedule_key, outcome, run_id, fired_by, fired_at)
     SELECT w, t, k, o, r, $6, clock_timestamp()
     FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[]) u(w, t, k, o, r)
     ON CONFLICT DO NOTHING RETURNING workflow, scheduled_at`,
    [
      fires.map((f) => f.workflow),
      fires.map((f) => f.scheduledAt.toISOString()),
      fires.map((f) => f.key),
      fires.map((f) => f.outcome),
      fires.map((f) => f.runId),
      owner,
    ],
  );
  const won = new Set(rows.map((r) => `${r.workflow}@${new Date(r.scheduled_at).toISOString()}`));
  return fires.filter((f) => won.has(`${f.workflow}@${f.scheduledAt.toISOString()}`));
}

export async function advance(
  db: Queryable,
  rows: { workflow: string; key: string; next: Date | null; firedAt: Date | null }[],
): Promise<void> {
  const ended = rows.filter((r) => r.next === null);
  const live = rows.filter((r) => r.next !== null);
  if (ended.length > 0) {
    await db.query(
      `DELETE FROM skyflow.cron_schedules c USING unnest($1::text[], $2::text[]) u(w, k)
       WHERE c.workflow = u.w AND c.schedule_key = u.k`,
      [ended.map((r) => r.workflow), ended.map((r) => r.key)],
    );
  }
  if (live.length === 0) return;
  await db.query(
    `UPDATE skyflow.cron_schedules c SET next_at = u.n, last_fired_at = coalesce(u.f, c.last_fired_at)
     FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) u(w, k, n, f)
     WHERE c.workflow = u.w AND c.schedule_key = u.k`,
    [
      live.map((r) => r.workflow),
      live.map((r) => r.key),
      live.map((r) => r.next!.toISOString()),
      live.map((r) => r.firedAt?.toISOString() ?? null),
    ],
  );
}
