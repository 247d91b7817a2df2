// The transaction a trigger claims work in (outbox rows, due cron schedules) and enqueues the runs.
// It commits without waiting for the WAL flush: safe because the claim and its runs are one atomic commit
// whose inputs are already durable. A crash that loses it loses both halves, so the change (or the due
// schedule) comes back and is claimed again with the same event id (and its run with the same id); any later
// durable commit, such as the engine's first save of that run, flushes the WAL past it first; and a first try
// started before that save lands is stopped when the save fails (runner.ts). A run's first sql step starts
// even before this COMMIT is answered (RunHandoff.launch): its own COMMIT waits for that answer, so it never
// commits without the run's row, and a crash before it rolls the step back with the rest.
import type pg from "pg";
import { checkout, isPromise } from "../../db/checkout.js";
import {
  beginOf,
  type Db,
  type Planning,
  pipelined,
  type Rows,
  type Statement,
  type Tx,
} from "../../db/pool.js";

/** How the claim's statements are planned (TxOptions.indexScans, TxOptions.genericPlan). */
export type ClaimOptions = Planning;

/**
 * `first` (the claim, its values bound) is sent with the BEGIN in one round trip; `fn` gets the transaction
 * and the claim's rows. Its last statement may go with the COMMIT (tx.commitWith).
 */
export function claimTransaction<T, R = Record<string, unknown>>(
  db: Db,
  first: Statement,
  fn: (tx: Tx, rows: R[]) => Promise<T>,
  opts: ClaimOptions = {},
): Promise<T> {
  return db.tx((tx) => fn(tx, tx.first as R[]), { first, asyncCommit: true, ...opts });
}

/**
 * Claim transactions one after another on one connection, as claimTransaction each, chained: when `more`
 * (given how many rows the transaction claimed) says new work is waiting as a transaction commits (a NOTIFY
 * came since its claim was sent), the next one's BEGIN and claim go in the same round trip as that COMMIT,
 * so a stream of changes costs one round trip per claim instead of two. `fn` runs once per transaction, with
 * its rows and a promise that settles once the transaction committed and `fn` returned (for handing its runs
 * over: see start-runs.ts handover.after), and returns its result; the chain ends after a transaction that
 * `more` did not extend. `sent` is called just before each claim goes out. Returns the results of every
 * transaction. An error rolls back the transaction it happened in (and the next one's claim, when chained)
 * and throws; those committed before stay.
 */
export async function claimChain<T, R = Record<string, unknown>>(
  pool: pg.Pool,
  first: Statement,
  more: (claimed: number) => boolean,
  sent: () => void,
  fn: (tx: Tx, rows: R[], committed: Promise<void>) => Promise<T>,
  opts: ClaimOptions = {},
): Promise<T[]> {
  const BEGIN = beginOf({ asyncCommit: true, ...opts });
  const got = checkout(pool);
  const client = isPromise(got) ? await got : got;
  let broken = false;
  const out: T[] = [];
  try {
    sent();
    let rows = (await pipelined(client, [BEGIN, first]))[1]!.rows as R[];
    for (;;) {
      let next: R[] | undefined;
      let done = false;
      let ack!: () => void;
      let nack!: (err: unknown) => void;
      const committed = new Promise<void>((res, rej) => {
        ack = res;
        nack = rej;
      });
      committed.catch(() => {});
      // The transaction's last statement (or none) with its COMMIT, and maybe the next BEGIN and claim.
      const commit = async (st?: Statement): Promise<pg.QueryResult | undefined> => {
        const chain = more(rows.length);
        const list: (string | Statement)[] = [...(st ? [st] : []), "COMMIT"];
        if (chain) {
          sent();
          list.push(BEGIN, first);
        }
        let rs: pg.QueryResult[];
        try {
          rs = await pipelined(client, list);
        } catch (err) {
          nack(err);
          throw err;
        }
        const c = rs[st ? 1 : 0]!;
        if (c.command !== "COMMIT") {
          const err = new Error("the transaction was rolled back instead of committed");
          nack(err);
          throw err;
        }
        done = true;
        if (chain) next = rs[rs.length - 1]!.rows as R[];
        return st ? rs[0] : undefined;
      };
      const tx: Tx = {
        client,
        first: rows as Record<string, unknown>[],
        query: ((text: string | Statement, values?: unknown[]) =>
          typeof text === "string"
            ? client.query(text, values)
            : client.query({
                text: text.text,
                values: text.values,
                ...(text.name ? { name: text.name } : {}),
              } as pg.QueryConfig)) as Tx["query"],
        async commitWith<S extends Record<string, unknown>>(st: Statement) {
          return (await commit(st)) as unknown as Rows<S>;
        },
      };
      try {
        out.push(await fn(tx, rows, committed));
        if (!done) await commit();
        // Only now: what `fn` did after its COMMIT (noting the runs it created) is done when this settles.
        ack();
      } catch (err) {
        // Failed after its COMMIT landed, the transaction still committed.
        if (done) ack();
        else nack(err);
        throw err;
      }
      if (!next) return out;
      rows = next;
    }
  } catch (err) {
    broken = !(client as unknown as { _queryable?: boolean })._queryable;
    // A failed statement left its transaction aborted, or the chained claim open: end either.
    if (!broken) await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release(broken || undefined);
  }
}
