// Until when this engine may still execute each of its runs: a run's lease as this engine last saw it
// extended, and one timer that gives up the runs whose lease it could not renew in time. No database I/O.

/**
 * A claim, a renewal or a save sent at t leases a run until at least t + leaseMs by the database's clock
 * (its statement runs after t). A run whose lease nothing extended by a sixth of the lease before then is
 * expired here: once the lease is out, another engine may claim the run and execute it too. While the
 * database answers, renewals and saves keep every lease ahead; cut off from it, nothing does.
 */
export class LeaseFence {
  private readonly until = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly marginMs: number;

  constructor(
    private readonly leaseMs: number,
    private readonly expire: (runId: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.marginMs = leaseMs / 6;
  }

  /** A run leased to this engine by a statement sent at `sentAt`. */
  track(runId: string, sentAt: number): void {
    const until = sentAt + this.leaseMs;
    this.until.set(runId, until);
    if (!this.timer || this.timerAt > until - this.marginMs) this.schedule(until - this.marginMs);
  }

  /** Runs whose leases a statement sent at `sentAt` extended (runs no longer tracked stay so). */
  confirm(runIds: Iterable<string>, sentAt: number): void {
    const until = sentAt + this.leaseMs;
    for (const id of runIds) {
      const was = this.until.get(id);
      if (was !== undefined && was < until) this.until.set(id, until);
    }
  }

  forget(runId: string): void {
    this.until.delete(runId);
  }

  clear(): void {
    this.until.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.check(), Math.max(0, at - this.now()));
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    const limit = this.now() + this.marginMs;
    let next = Number.POSITIVE_INFINITY;
    for (const [id, until] of this.until) {
      if (until > limit) {
        next = Math.min(next, until);
        continue;
      }
      this.until.delete(id);
      this.expire(id);
    }
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next - this.marginMs);
  }
}
