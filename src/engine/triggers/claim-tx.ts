// The transaction a trigger claims work in (outbox rows, due cron schedules) and enqueues the runs.
// It commits without waiting for the WAL flush: safe because the claim and its runs are one atomic commit
// whose inputs are already durable. A crash that loses it loses both halves, so the change (or the due
// schedule) comes back and is claimed again with the same event id; and any later durable commit, such as
// the engine starting that run, flushes the WAL past it first.
import type pg from "pg";

export async function claimTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    // One round trip for both statements (simple query protocol).
    await client.query("BEGIN; SET LOCAL synchronous_commit TO off");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
