// Cron trigger, match step: given a schedule's stored next fire time and the clock, which times fire now
// and the next time to store, per catch_up. No I/O (fire-time arithmetic is pure croner).
import { nextFire, previousFires } from "./parse.js";

export interface FirePlan {
  /** Times to fire now, oldest first. */
  fires: Date[];
  /** The next time to store (strictly after now), or null when the schedule has ended. */
  next: Date | null;
  /** Due times not fired because catch_up said so (or because `all` hit its bound). */
  skipped: number;
}

export interface PlanOptions {
  /** A due time at most this late (capped at one period) counts as on time rather than missed. */
  graceMs?: number;
  /** catch_up: all fires at most this many missed times (the most recent ones). */
  maxCatchUp?: number;
}

// Listing fire times costs ~0.2 ms each; past this many, jump ahead instead of walking the outage.
const ENUMERATE_MAX = 1_000;

export function planFires(
  s: { schedule: string; timezone: string; catchUp: "none" | "last" | "all" },
  nextAt: Date,
  now: Date,
  opts: PlanOptions = {},
): FirePlan {
  const maxCatchUp = opts.maxCatchUp ?? 100;
  let due: Date[] = [];
  let t: Date | null = nextAt;
  while (t && t.getTime() <= now.getTime() && due.length < ENUMERATE_MAX) {
    due.push(t);
    t = nextFire(s.schedule, s.timezone, t);
  }
  let total = due.length;
  if (t && t.getTime() <= now.getTime()) {
    // Far too many to list: keep only the latest ones catch_up could use and jump ahead.
    due = previousFires(s.schedule, s.timezone, now, maxCatchUp + 1);
    total = Number.POSITIVE_INFINITY;
    t = nextFire(s.schedule, s.timezone, now);
  }
  const next = t;
  // No cron period is under a second, so due times at most 1 s old are on time without asking croner.
  const oldest = due[0] ? now.getTime() - due[0].getTime() : 0;
  const period = next && oldest > 1000 ? periodAfter(s, next) : Number.POSITIVE_INFINITY;
  const grace = Math.min(opts.graceMs ?? 10_000, period);
  const onTime = due.filter((d) => now.getTime() - d.getTime() <= grace);
  const missed = due.filter((d) => now.getTime() - d.getTime() > grace);
  let fires: Date[];
  if (s.catchUp === "none" || missed.length === 0) fires = onTime;
  else if (s.catchUp === "last") fires = [missed[missed.length - 1]!, ...onTime];
  else fires = [...missed.slice(-maxCatchUp), ...onTime];
  const skipped = Number.isFinite(total) ? total - fires.length : Number.POSITIVE_INFINITY;
  return { fires, next, skipped };
}

function periodAfter(s: { schedule: string; timezone: string }, t: Date): number {
  const after = nextFire(s.schedule, s.timezone, t);
  return after ? after.getTime() - t.getTime() : Number.POSITIVE_INFINITY;
}

/** The event a fire starts a run with; its id makes every engine agree on one run per fire. */
export function cronEvent(
  workflow: string,
  s: { schedule: string; timezone: string },
  scheduledAt: Date,
  now: Date,
): { id: string; type: "cron"; at: string; scheduled_at: string; schedule: string; timezone: string } {
  const iso = scheduledAt.toISOString();
  return {
    id: `${workflow}@${iso}`,
    type: "cron",
    at: now.toISOString(),
    scheduled_at: iso,
    schedule: s.schedule,
    timezone: s.timezone,
  };
}

export interface DueSchedule {
  workflow: string;
  schedule_key: string;
  schedule: string;
  timezone: string;
  catch_up: "none" | "last" | "all";
  overlap: "skip" | "queue" | "allow";
  next_at: Date;
}

export interface PlannedFire {
  workflow: string;
  key: string;
  scheduledAt: Date;
  outcome: "started" | "skipped_overlap";
  event: ReturnType<typeof cronEvent>;
}

/**
 * A claimed batch of due schedules -> the fires (a fire of an overlap: skip schedule whose previous run is
 * still going, per `busy`, is recorded but starts nothing), the next times to store, and warnings.
 */
export function planBatch(
  rows: DueSchedule[],
  busy: Set<string>,
  now: Date,
): {
  fires: PlannedFire[];
  advances: { workflow: string; key: string; next: Date | null; firedAt: Date | null }[];
  warnings: { workflow: string; skipped: number }[];
} {
  const fires: PlannedFire[] = [];
  const advances = [];
  const warnings = [];
  for (const r of rows) {
    const plan = planFires(
      { schedule: r.schedule, timezone: r.timezone, catchUp: r.catch_up },
      new Date(r.next_at),
      now,
    );
    if (r.catch_up === "all" && plan.skipped > 0)
      warnings.push({ workflow: r.workflow, skipped: plan.skipped });
    let running = busy.has(`${r.workflow}\u0000${r.schedule_key}`);
    for (const t of plan.fires) {
      const outcome = r.overlap === "skip" && running ? "skipped_overlap" : "started";
      fires.push({
        workflow: r.workflow,
        key: r.schedule_key,
        scheduledAt: t,
        outcome,
        event: cronEvent(r.workflow, r, t, now),
      });
      running ||= r.overlap === "skip";
    }
    advances.push({
      workflow: r.workflow,
      key: r.schedule_key,
      next: plan.next,
      firedAt: plan.fires.at(-1) ?? null,
    });
  }
  return { fires, advances, warnings };
}
