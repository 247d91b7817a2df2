// Cron trigger, parse step: the catalog's cron triggers as schedule rows, and fire-time arithmetic through
// croner (parsing and next/previous times only; skyflow never starts a croner job). No I/O.
import { Cron } from "croner";
import type { WorkflowDefinition } from "../../definition/types.js";

export interface CronSchedule {
  workflow: string;
  /** Identifies one schedule of a workflow (a workflow may list several cron triggers). */
  key: string;
  schedule: string;
  timezone: string;
  catchUp: "none" | "last" | "all";
  overlap: "skip" | "queue" | "allow";
  version: string;
}

export function scheduleKey(schedule: string, timezone: string): string {
  return `${schedule}|${timezone}`;
}

export function cronSchedules(workflows: WorkflowDefinition[]): CronSchedule[] {
  const out: CronSchedule[] = [];
  for (const wf of workflows) {
    if (!wf.enabled) continue;
    for (const t of wf.triggers) {
      if (t.kind !== "cron") continue;
      out.push({
        workflow: wf.name,
        key: scheduleKey(t.schedule, t.timezone),
        schedule: t.schedule,
        timezone: t.timezone,
        catchUp: t.catchUp,
        overlap: t.overlap,
        version: wf.version,
      });
    }
  }
  return out;
}

// A parsed pattern costs ~80 KB of heap in croner, so keep only a few hundred (schedules share patterns).
const CACHE_MAX = 256;
const cache = new Map<string, Cron>();

function pattern(schedule: string, timezone: string): Cron {
  const k = scheduleKey(schedule, timezone);
  let c = cache.get(k);
  if (c) {
    cache.delete(k);
  } else {
    c = new Cron(schedule, { timezone, paused: true, mode: "5-or-6-parts" });
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  }
  cache.set(k, c);
  return c;
}

// croner takes ~0.2 ms per nextRun with a timezone; schedules sharing a pattern are due at the same times,
// so remember recent answers.
const NEXT_MAX = 4096;
const nextCache = new Map<string, number | null>();

/** The first fire time strictly after `after`, or null when the pattern never fires again. */
export function nextFire(schedule: string, timezone: string, after: Date): Date | null {
  const k = `${schedule}|${timezone}|${after.getTime()}`;
  let v = nextCache.get(k);
  if (v === undefined) {
    v = pattern(schedule, timezone).nextRun(after)?.getTime() ?? null;
    if (nextCache.size >= NEXT_MAX) nextCache.delete(nextCache.keys().next().value!);
    nextCache.set(k, v);
  }
  return v === null ? null : new Date(v);
}

/** The last `n` fire times at or before `at`, oldest first. */
export function previousFires(schedule: string, timezone: string, at: Date, n: number): Date[] {
  return pattern(schedule, timezone)
    .previousRuns(n, new Date(at.getTime() + 1))
    .reverse();
}

/** Throws croner's message for a bad pattern or timezone (the definition loader may use it). */
export function checkSchedule(schedule: string, timezone: string): void {
  nextFire(schedule, timezone, new Date());
}
