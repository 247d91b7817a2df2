// Cron trigger, drive step: keeps skyflow.cron_schedules in line with the catalog and runs ONE timer that
// sleeps until the earliest stored next_at, claims due schedules in batches and records each fire with its
// run in one transaction. Owns all cron I/O.
import type pg from "pg";
import type { Logger } from "../../../log.js";
import type { Catalog } from "../../definition/types.js";
import { claimTransaction } from "../claim-tx.js";
import { type RunRequest, startRuns } from "../start-runs.js";
import { cronEvent, planFires } from "./match.js";
import { cronSchedules, nextFire } from "./parse.js";
import * as q from "./sql.js";

export interface CronDriverOptions {
  pool: pg.Pool;
  catalog: Catalog;
  wake: () => void;
  log: Logger;
  clock: () => Date;
  owner: string;
  batchSize?: number;
  /** Longest sleep, so schedules another engine adds are noticed. */
  maxSleepMs?: number;
}

export async function startCronDriver(o: CronDriverOptions) {
  const batch = o.batchSize ?? 500;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let lateness: number | undefined;

  const sync = async (): Promise<void> => {
    const now = o.clock();
    await q.syncSchedules(o.pool, cronSchedules(o.catalog.list()), (s) => {
      try {
        return nextFire(s.schedule, s.timezone, now);
      } catch (err) {
        o.log.warn(
          { workflow: s.workflow, schedule: s.schedule, err: (err as Error).message },
          "bad cron schedule",
        );
        return null;
      }
    });
  };

  /** Fires one batch of due schedules; returns how many schedules it claimed. */
  const fireBatch = async (): Promise<number> => {
    const now = o.clock();
    const claim = (c: pg.PoolClient) => q.claimDueSQL((v) => c.escapeLiteral(v), now, batch);
    const result = await claimTransaction<{ claimed: number; created: number }, q.ScheduleRow>(
      o.pool,
      claim,
      async (tx, rows) => {
        if (rows.length === 0) return { claimed: 0, created: 0 };
        const skipRows = rows.filter((r) => r.overlap === "skip");
        const busy = await q.busySchedules(
          tx,
          skipRows.map((r) => r.workflow),
          skipRows.map((r) => r.schedule_key),
        );
        const fires: q.FireRow[] = [];
        const advances: Parameters<typeof q.advance>[1] = [];
        for (const r of rows) {
          const spec = { schedule: r.schedule, timezone: r.timezone, catchUp: r.catch_up };
          const plan = planFires(spec, new Date(r.next_at), now);
          if (r.catch_up === "all" && plan.skipped > 0) {
            o.log.warn(
              { workflow: r.workflow, skipped: plan.skipped },
              "cron catch_up all: too many missed fires",
            );
          }
          let running = busy.has(`${r.workflow}\u0000${r.schedule_key}`);
          for (const t of plan.fires) {
            const skip = r.overlap === "skip" && running;
            fires.push({
              workflow: r.workflow,
              scheduledAt: t,
              key: r.schedule_key,
              outcome: skip ? "skipped_overlap" : "started",
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
        const won = await q.recordFires(tx, fires, o.owner);
        const requests: RunRequest[] = [];
        const byEvent = new Map<string, q.FireRow>();
        for (const f of won) {
          const wf = o.catalog.get(f.workflow);
          const row = rows.find((r) => r.workflow === f.workflow && r.schedule_key === f.key)!;
          if (f.outcome !== "started" || !wf) continue;
          const event = cronEvent(f.workflow, row, f.scheduledAt, now);
          byEvent.set(`${f.workflow}\u0000${event.id}`, f);
          requests.push({ workflow: wf, event });
        }
        const created = await startRuns(tx, requests);
        await q.setRunIds(
          tx,
          created.map((c) => ({
            workflow: c.workflow,
            at: byEvent.get(`${c.workflow}\u0000${c.eventId}`)!.scheduledAt.toISOString(),
            runId: c.id,
          })),
        );
        await q.advance(tx, advances);
        const last = won.at(-1);
        if (last) lateness = o.clock().getTime() - last.scheduledAt.getTime();
        return { claimed: rows.length, created: created.length };
      },
    );
    if (result.created > 0) o.wake();
    return result.claimed;
  };

  const tick = async (): Promise<void> => {
    let claimed = 0;
    try {
      do claimed = await fireBatch();
      while (claimed === batch && !stopped);
    } catch (err) {
      o.log.error({ err: (err as Error).message }, "cron fire failed; retrying");
    }
    await arm(claimed === 0);
  };

  /** Sleeps until the earliest next_at; if that is already due but locked by another engine, retries soon. */
  const arm = async (claimedNone: boolean): Promise<void> => {
    if (stopped) return;
    let delay = o.maxSleepMs ?? 5_000;
    try {
      const earliest = await q.earliestNext(o.pool);
      if (earliest) {
        const wait = new Date(earliest).getTime() - o.clock().getTime();
        delay = Math.min(delay, wait > 0 ? wait : claimedNone ? 20 : 0);
      }
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, "cron: reading the next fire time failed");
      delay = 1_000;
    }
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      ticking = tick();
    }, delay);
  };

  const resync = async (): Promise<void> => {
    try {
      await sync();
    } catch (err) {
      o.log.error({ err: (err as Error).message }, "cron: storing schedules failed");
    }
    await arm(false);
  };

  await resync();
  const unsubscribe = o.catalog.subscribe(() => {
    if (!stopped) void resync();
  });
  return {
    async stop(): Promise<void> {
      stopped = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      await ticking;
    },
    stats: () => (lateness === undefined ? {} : { cronLatenessMs: lateness }),
  };
}
