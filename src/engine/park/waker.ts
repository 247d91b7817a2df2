// Parked runs falling due: each engine keeps one wake timer, for the next parked run due anywhere (any
// engine's), so a sleep ends on time whichever engine parked it. No timer per run.
//
// A top-level sleep ends in the database when it falls due (skyflow.end_due_sleeps, migrations 085 and 095):
// set-based statements end every due sleep (its try's end recorded with its output {slept_ms}, the run woken:
// still 'sleeping', its `wake` holding that end, which the claim takes at once; a HOT update of its row)
// whatever the engines' free capacity, so ten thousand sleeps due in the same second end in that second; the
// claim then takes the runs on to their next step as capacity allows (resume.ts finds the end recorded).
// Several engines share the work by SKIP LOCKED, so a sleep ends once. Other parked runs (a wait_for's
// timeout, an inner step's wait, a retry's delay) are resumed by the claim as before. Times are the
// database's, as the park's.
import type { Logger } from "../../log.js";
import { settledWithin } from "../../within.js";
import { type Clock, systemClock, unrefTimer } from "../clock.js";
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

/**
 * Parked runs by what they wait for: sleep, wait_for, call, or retry (a retry's delay). A sleep the waker
 * ended is not counted while it waits for its claim (still 'sleeping', with a wake value).
 */
export async function parkedCounts(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ k: string; n: number }>(
    `SELECT CASE WHEN wait IS NULL THEN 'retry' ELSE wait->>'kind' END AS k, count(*)::int AS n
     FROM skyflow.runs WHERE status IN ('sleeping', 'waiting') AND NOT (status = 'sleeping' AND wake IS NOT NULL)
     GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}

/**
 * Ms until the next top-level sleep and the next parked run of any kind fall due (none: undefined). A sleep
 * due in the last `pastMs` (at most two seconds) and not ended yet counts (negative ms): after two seconds
 * the claim takes it (claim.ts). Each is the first row of an index in due order (runs_sleeping,
 * runs_claimable); the sleeps woken and not claimed yet (migration 095) are stepped over in the past window,
 * so right after a round, which ended the sleeps due, it is left out (0).
 */
export async function nextDue(db: Queryable, pastMs = 2000): Promise<{ sleepMs?: number; otherMs?: number }> {
  const { rows } = await db.query<{ s: number | null; o: number | null }>({
    name: "skyflow_next_due",
    text: `SELECT
      (SELECT (extract(epoch FROM min(available_at) - clock_timestamp()) * 1000)::float8 FROM skyflow.runs
        WHERE status = 'sleeping' AND available_at > now() - $1::int * interval '1 millisecond' AND wake IS NULL
          AND wait->>'kind' = 'sleep' AND NOT (wait ? 'inner')) AS s,
      (SELECT (extract(epoch FROM min(available_at) - clock_timestamp()) * 1000)::float8 FROM skyflow.runs
        WHERE status IN ('sleeping', 'waiting') AND available_at > now() AND available_at < 'infinity') AS o`,
    values: [Math.max(0, Math.min(2000, Math.floor(pastMs)))],
  });
  const r = rows[0];
  return {
    ...(r?.s === null || r?.s === undefined ? {} : { sleepMs: r.s }),
    ...(r?.o === null || r?.o === undefined ? {} : { otherMs: r.o }),
  };
}

/**
 * The timer fires this long before a sleep falls due and the database waits out the rest (end_due_sleeps):
 * the timer may fire late by as much as the event loop lags, the database's wait does not.
 */
const AHEAD_MS = 50;
/** end_due_sleeps goes on while the next sleep falls due within GAP_MS, for at most CAP_MS. */
const GAP_MS = 250;
const CAP_MS = 2000;
/** How long stop() waits for a round in flight (a round lasts at most CAP_MS while the database answers). */
const STOP_WAIT_MS = CAP_MS + 500;
/**
 * Sleeps ended per statement (and commit): the first of a batch is seen by the claim only once the batch
 * commits. Ten thousand due in one second come in batches of a few hundred at most (the due since the last).
 */
const BATCH = 500;

export interface WakerOptions {
  db: Queryable;
  log: Logger;
  /** Runs may be due now (sleeps ended, timeouts reached): the engine claims. */
  onDue: () => void;
  /** Parked runs due later than this are left to the engine's poll (it looks again on each sweep). */
  horizonMs: number;
  /** What the timer runs on (default: real time); the due times it is set from are the database's. */
  clock?: Clock;
}

/** The engine's one wake timer for parked runs, and the end of due sleeps it starts in the database. */
export class Waker {
  private timer: unknown;
  private at = Number.POSITIVE_INFINITY;
  private firing: Promise<void> | undefined;
  /** Set while firing: fire again once this round is over. */
  private again = false;
  private stopped = false;
  /** When the last round's CALL answered (performance.now()). */
  private roundEnded = Number.NEGATIVE_INFINITY;

  private readonly clock: Clock;

  constructor(private readonly o: WakerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** A run this engine parked falls due in `ms` (from now): the timer is set for then, AHEAD_MS early. */
  dueIn(ms: number): void {
    this.setTimer(ms - AHEAD_MS);
  }

  /** The timer fires in `ms` unless set for earlier; runs due later than the horizon are left to the poll. */
  private setTimer(ms: number): void {
    if (this.stopped || !(ms < this.o.horizonMs)) return;
    const wait = Math.max(0, ms);
    const at = this.clock.now() + wait;
    if (this.timer !== undefined && at >= this.at) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.at = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.at = Number.POSITIVE_INFINITY;
      void this.fire();
    }, wait);
    unrefTimer(this.timer);
  }

  /** Looks for the next parked run due and sets the timer (after a claim sweep, which took those due now). */
  async check(): Promise<void> {
    if (this.stopped || this.firing) return;
    // Within two seconds of a round, the sleeps due before it are ended or the claim's (see nextDue).
    const past = Math.min(2000, performance.now() - this.roundEnded);
    const next = await nextDue(this.o.db, past).catch(() => undefined);
    if (next) this.arm(next);
  }

  /** For a sleep, AHEAD_MS early; for a parked run of another kind due before it, just after it falls due. */
  private arm(next: { sleepMs?: number; otherMs?: number }): void {
    if (next.sleepMs !== undefined) this.setTimer(next.sleepMs - AHEAD_MS);
    if (next.otherMs !== undefined && !(next.sleepMs !== undefined && next.otherMs >= next.sleepMs))
      this.setTimer(next.otherMs + 2);
  }

  /** Ends the sleeps due (or about to be), wakes the engine, and sets the timer for the next parked run due. */
  fire(): Promise<void> {
    if (this.firing) {
      this.again = true;
      return this.firing;
    }
    this.firing = this.round().finally(() => {
      this.firing = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.fire();
      }
    });
    return this.firing;
  }

  private async round(): Promise<void> {
    try {
      const began = performance.now();
      await this.o.db.query({
        name: "skyflow_end_due_sleeps",
        text: "CALL skyflow.end_due_sleeps($1, $2, $3)",
        values: [GAP_MS, CAP_MS, BATCH],
      });
      // Stopped at its cap with sleeps still falling due: another round at once.
      if (performance.now() - began >= CAP_MS) this.again = true;
      // Timeouts and retry delays due now, and the runs the sleeps' ends made runnable: the claim's turn.
      this.o.onDue();
      this.roundEnded = performance.now();
      const next = await nextDue(this.o.db, 0);
      // A sleep still due after the round is one it could not end: the claim's, after its grace.
      if (next.sleepMs !== undefined && next.sleepMs <= 0) delete next.sleepMs;
      if (!this.stopped) this.arm(next);
    } catch (err) {
      // The claim resumes due sleeps too (after a grace: see claim.ts), as it resumes every other parked run.
      this.o.onDue();
      if (!this.stopped) this.o.log.warn({ err: String(err) }, "ending due sleeps failed; the claim retries");
    }
  }

  start(): void {
    this.stopped = false;
  }

  /**
   * Clears the timer; resolves once a round in flight is over, or after STOP_WAIT_MS: across a network
   * partition its CALL never answers, and stopping must not wait for the network. A round left running ends
   * sleeps in the database on its own (no lease of this engine's is involved) and wakes nothing here.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Number.POSITIVE_INFINITY;
    await settledWithin(this.firing, STOP_WAIT_MS);
  }
}
