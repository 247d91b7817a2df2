// Time in a test of `skyflow test`: the manual clock moved by `advance`, stopping at every timer (retry
// waits, step timeouts, cron fires) and every parked run falling due, in time order; and `settle`, which
// waits until what the last move started has gone quiet. Parked runs wait in the database, whose clock
// keeps running: while parked, their due time is set to infinity and kept here on the manual clock.
import type pg from "pg";
import type { ManualClock } from "../engine/clock.js";
import type { Engine } from "../engine/engine.js";
import { anyClaimable } from "../engine/store/claim.js";

/**
 * Counted by the harness: engine events and messages, step tries in flight (and when the last began), pool
 * connections checked out, of which `listening` are held for good by LISTEN.
 */
export interface Activity {
  n: number;
  tries: number;
  since: number;
  held: number;
  listening: number;
}

/** Timers one `advance` stops at, at most (a daily cron over a year is 365). */
const MAX_STOPS = 5_000;
/** How long a test may take to become quiet after one move before it fails. */
const SETTLE_LIMIT_MS = 60_000;
/** Quiet this long (nothing changed) means the run waits for the clock or has ended. */
const QUIET_MS = 200;
/** A try still in flight after this long is taken to wait for its timeout (which `advance` fires). */
const HUNG_TRY_MS = 1_500;

export class TestTime {
  /** Parked runs: id -> when they are due on the manual clock. */
  private readonly parked = new Map<string, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: ManualClock,
    private readonly engine: Engine,
    private readonly published: unknown[],
    private readonly activity: Activity,
  ) {}

  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    for (let stops = 0; ; stops++) {
      if (stops > MAX_STOPS)
        throw new Error(
          `advance stopped at ${MAX_STOPS} timers and is not at its end: does a timer keep re-arming?`,
        );
      await this.freezeParked();
      const due = [this.clock.nextAt(), ...this.parked.values()];
      const next = Math.min(...due.filter((x): x is number => x !== undefined && x <= end));
      if (!Number.isFinite(next)) break;
      await this.moveTo(Math.max(next, this.clock.now()));
    }
    await this.moveTo(end);
  }

  private async moveTo(at: number): Promise<void> {
    this.clock.advance(at - this.clock.now());
    const woken = [...this.parked].filter(([, due]) => due <= at).map(([id]) => id);
    for (const id of woken) this.parked.delete(id);
    if (woken.length > 0) {
      await this.pool.query(
        "UPDATE skyflow.runs SET available_at = now() WHERE id = ANY($1) AND available_at = 'infinity'",
        [woken],
      );
    }
    this.engine.wake();
    await this.settle();
  }

  /** Parked runs due by the database's clock get their due time on the manual clock instead. */
  private async freezeParked(): Promise<void> {
    const { rows } = await this.pool.query<{ id: string; ms: string }>(
      `WITH p AS (SELECT id, available_at, updated_at FROM skyflow.runs
                  WHERE status NOT IN ('succeeded', 'failed', 'cancelled')
                    AND available_at > now() AND available_at <> 'infinity' FOR UPDATE)
       UPDATE skyflow.runs r SET available_at = 'infinity' FROM p WHERE r.id = p.id
       RETURNING r.id, round(extract(epoch FROM p.available_at - p.updated_at) * 1000) AS ms`,
    );
    // The save that parked a run set both from one now(): their difference is the wait, to the millisecond,
    // and the manual clock has not moved since (every move ends with a settle, which comes here).
    for (const r of rows) this.parked.set(r.id, this.clock.now() + Math.max(0, Number(r.ms)));
  }

  /** Waits until nothing changes for a while: runs, tries, the outbox, messages, timers and tries in flight. */
  async settle(): Promise<void> {
    const limit = Date.now() + SETTLE_LIMIT_MS;
    let last = "";
    let since = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      await this.freezeParked();
      const [{ rows }, claimable] = await Promise.all([
        this.pool.query<{ outbox: string }>(
          `SELECT (SELECT count(*) FROM skyflow.record_outbox) AS outbox,
                  (SELECT string_agg(status || ':' || updated_at::text, ',' ORDER BY id) FROM skyflow.runs) AS runs,
                  (SELECT count(*) FROM skyflow.step_tries) AS tries`,
        ),
        anyClaimable(this.pool, SETTLE_LIMIT_MS),
      ]);
      const row = rows[0]!;
      const a = this.activity;
      const print = JSON.stringify([
        row,
        this.clock.pending(),
        this.clock.nextAt(),
        this.published.length,
        a.n,
        a.tries,
      ]);
      const now = Date.now();
      if (print !== last) {
        last = print;
        since = now;
      } else {
        // A try in flight this long waits for its timeout (or is slow): `advance` is what moves it on.
        const hung = a.tries > 0 && now - a.since >= HUNG_TRY_MS;
        const idle = a.tries === 0 ? a.held <= a.listening : hung;
        // A run the engine's claim would find (its own test, anyClaimable) is on its way to the engine: a new
        // one (a called child, a run a trigger made) or a parked one released (a called child ended, a record
        // came, its sleep ended). It is given as long as a try in flight, not taken for the run's state; one
        // never claimed (a concurrency limit) still settles then.
        const busy = a.tries > 0 || claimable;
        if (row.outbox === "0" && now - since >= (busy ? HUNG_TRY_MS : QUIET_MS) && idle) return;
      }
      if (now > limit) throw new Error(`the test did not settle within ${SETTLE_LIMIT_MS / 1000} s`);
    }
  }
}
