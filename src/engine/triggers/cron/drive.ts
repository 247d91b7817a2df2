// Cron trigger, drive step: keeps skyflow.cron_schedules in line with the catalog and runs ONE timer that
// sleeps until the earliest stored next_at, claims due schedules in batches and records each fire with its
// run in one transaction. Owns all cron I/O.
import type pg from "pg";
import { poolDb } from "../../../db/pool.js";
import type { Logger } from "../../../log.js";
import type { Clock } from "../../clock.js";
import type { Catalog } from "../../definition/types.js";
import type { RunHandoff } from "../../store/claim.js";
import { claimTransaction } from "../claim-tx.js";
import { handover, type RunRequest } from "../start-runs.js";
import { planBatch } from "./match.js";
import { cronSchedules, nextFire } from "./parse.js";
import * as q from "./sql.js";

export interface CronDriverOptions {
  pool: pg.Pool;
  catalog: Catalog;
  wake: () => void;
  /** An engine in this process that takes the fires' runs without a claim (see RunHandoff). */
  handoff?: RunHandoff;
  /** The keys, redacted from stored events. */
  secrets?: string[];
  log: Logger;
  /** What the driver reads the time from and sleeps on; a manual clock lets tests fire schedules. */
  clock: Clock;
  owner: string;
  batchSize?: number;
  /** Longest sleep, so schedules another engine adds are noticed. */
  maxSleepMs?: number;
}

export async function startCronDriver(o: CronDriverOptions) {
  // Small batches on three connections: fires due together commit in parallel rather than one long batch.
  const batch = o.batchSize ?? 64;
  const db = poolDb(o.pool);
  const PARALLEL = 3;
  let stopped = false;
  const date = () => new Date(o.clock.now());
  let timer: unknown;
  let ticking: Promise<void> | undefined;
  let lateness: number | undefined;
  const storedVersions = new Set<string>();

  const sync = async (): Promise<void> => {
    const now = date();
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
    const now = date();
    const runs = handover(o.handoff, o.wake, storedVersions, o.secrets);
    const transaction = claimTransaction<number, q.ScheduleRow>(
      db,
      q.claimDue(now, batch),
      async (tx, rows) => {
        if (rows.length === 0) return 0;
        const skipRows = rows.filter((r) => r.overlap === "skip");
        const busy = await q.busySchedules(
          tx,
          skipRows.map((r) => r.workflow),
          skipRows.map((r) => r.schedule_key),
        );
        const plan = planBatch(rows, busy, now);
        for (const w of plan.warnings) {
          o.log.warn(
            { workflow: w.workflow, skipped: w.skipped },
            "cron catch_up all: too many missed fires",
          );
        }
        const requests: RunRequest[] = [];
        for (const f of plan.fires) {
          const wf = o.catalog.get(f.workflow);
          if (f.outcome === "started" && wf) requests.push({ workflow: wf, event: f.event });
        }
        // Runs first, so a fire's recorded time (fired_at) includes enqueueing its run.
        const created = await runs.start(tx, requests);
        const runIds = new Map(created.map((c) => [`${c.workflow}\u0000${c.eventId}`, c.id]));
        const won = await q.recordFires(
          tx,
          plan.fires.map((f) => ({ ...f, runId: runIds.get(`${f.workflow}\u0000${f.event.id}`) ?? null })),
          o.owner,
        );
        await q.advance(tx, plan.advances);
        const last = won.at(-1);
        if (last) lateness = date().getTime() - last.scheduledAt.getTime();
        return rows.length;
      },
    );
    return runs.after(transaction);
  };

  const tick = async (): Promise<void> => {
    let claimed = 0;
    let failed = false;
    const loop = async (): Promise<number> => {
      let n = 0;
      let total = 0;
      do {
        n = await fireBatch();
        total += n;
      } while (n === batch && !stopped);
      return total;
    };
    // allSettled: one failed batch must not let the tick end while the other loops still run.
    for (const r of await Promise.allSettled(Array.from({ length: PARALLEL }, loop))) {
      if (r.status === "fulfilled") claimed += r.value;
      else {
        failed = true;
        o.log.error({ err: (r.reason as Error).message }, "cron fire failed; retrying in 1 s");
      }
    }
    await arm(claimed === 0, failed);
  };

  /** Sleeps until the earliest next_at; if that is already due but locked by another engine, retries soon. */
  const arm = async (claimedNone: boolean, failed = false): Promise<void> => {
    if (stopped) return;
    let delay = failed ? 1_000 : (o.maxSleepMs ?? 5_000);
    try {
      const earliest = await q.earliestNext(o.pool);
      if (earliest && !failed) {
        const wait = new Date(earliest).getTime() - date().getTime();
        delay = Math.min(delay, wait > 0 ? wait : claimedNone ? 20 : 0);
      }
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, "cron: reading the next fire time failed");
      delay = 1_000;
    }
    if (stopped) return;
    if (timer !== undefined) o.clock.clearTimeout(timer);
    timer = o.clock.setTimeout(() => {
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
      if (timer !== undefined) o.clock.clearTimeout(timer);
      await ticking;
    },
    stats: () => (lateness === undefined ? {} : { cronLatenessMs: lateness }),
  };
}
