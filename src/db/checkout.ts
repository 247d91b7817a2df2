// A pooled connection taken in the same turn when one is idle. pg-pool's connect() hands over an idle client
// only after a process.nextTick, which runs once every microtask queued before it has run, and then through
// a promise of its own: on a change's way to its run's first statement (the trigger's claim, the sql step's
// transaction) that was 30-40 µs each at 100 changes a second (a SKYFLOW latency trace, bench/peers.ts).
// Here an idle client is handed over exactly as pg-pool's own queue does it (_pulseQueue), at once; with
// none idle, with callers already waiting, or a pool whose internals are not the ones known, it is
// pool.connect() as before.
import type pg from "pg";

interface IdleItem {
  client: pg.PoolClient & { ref?: () => void };
  idleListener: unknown;
  timeoutId: NodeJS.Timeout | undefined;
}

/** The pg-pool 3.x internals its _pulseQueue uses to hand an idle client to a waiting checkout. */
interface PoolInternals {
  _idle?: IdleItem[];
  _pendingQueue?: unknown[];
  ending?: boolean;
  ended?: boolean;
  _acquireClient?: (
    client: pg.PoolClient,
    pending: { timedOut: boolean; callback: (err: unknown, client?: pg.PoolClient) => void },
    idleListener: unknown,
    isNew: boolean,
  ) => void;
}

/** An idle client of `pool` now, or pool.connect()'s promise. */
export function checkout(pool: pg.Pool): pg.PoolClient | Promise<pg.PoolClient> {
  const p = pool as unknown as PoolInternals;
  const idle = p._idle;
  if (
    idle === undefined ||
    idle.length === 0 ||
    p._pendingQueue?.length !== 0 ||
    p.ending ||
    p.ended ||
    typeof p._acquireClient !== "function"
  )
    return pool.connect();
  const item = idle.pop()!;
  clearTimeout(item.timeoutId);
  item.client.ref?.();
  let got: pg.PoolClient | undefined;
  let failed: unknown;
  p._acquireClient.call(
    pool,
    item.client,
    {
      timedOut: false,
      callback: (err, client) => {
        failed = err;
        got = client;
      },
    },
    item.idleListener,
    false,
  );
  if (got) return got;
  return Promise.reject(failed ?? new Error("no client handed over"));
}

/** Whether checkout() gave a promise (no idle client now) rather than the client. */
export function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown }).then === "function";
}
