// The transaction a trigger claims work in (outbox rows, due cron schedules) and enqueues the runs.
// It commits without waiting for the WAL flush: safe because the claim and its runs are one atomic commit
// whose inputs are already durable. A crash that loses it loses both halves, so the change (or the due
// schedule) comes back and is claimed again with the same event id (and its run with the same id); any later
// durable commit, such as the engine's first save of that run, flushes the WAL past it first; and a first try
// started before that save lands is stopped when the save fails (runner.ts).
import type { Db, Statement, Tx } from "../../db/pool.js";

/**
 * `first` (the claim, its values bound) is sent with the BEGIN in one round trip; `fn` gets the transaction
 * and the claim's rows. Its last statement may go with the COMMIT (tx.commitWith).
 */
export function claimTransaction<T, R = Record<string, unknown>>(
  db: Db,
  first: Statement,
  fn: (tx: Tx, rows: R[]) => Promise<T>,
): Promise<T> {
  return db.tx((tx) => fn(tx, tx.first as R[]), { first, asyncCommit: true });
}
