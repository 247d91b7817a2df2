// Record trigger, drive step: keeps skyflow's row trigger on the watched tables, wakes on NOTIFY (or the slow
// poll), claims outbox batches and starts their runs in the same transaction. Owns all record-trigger I/O.
import type pg from "pg";
import { poolDb, type Tx, warmPool } from "../../../db/pool.js";
import { type Logger, silentLogger } from "../../../log.js";
import { loadTableColumns } from "../../../server/records/table.js";
import type { ColumnInfo } from "../../../server/records/types.js";
import type { Catalog, WorkflowDefinition } from "../../definition/types.js";
import { type Listener, type ListenOptions, listen } from "../../listen.js";
import { recordSource } from "../../park/keys.js";
import type { WaitMatcher } from "../../park/match.js";
import type { RunHandoff } from "../../store/claim.js";
import { enqueueNothing } from "../../store/enqueue.js";
import { claimChain, claimTransaction } from "../claim-tx.js";
import { MAX_EVENT_DEPTH, nestsDeeper } from "../context.js";
import { type Handover, handover, knownVersions, type RunRequest } from "../start-runs.js";
import { watchTables } from "./attach.js";
import { changeEvent, planChange } from "./match.js";
import { hasUnknownColumn, type OutboxRow, parseOutboxRow, watchedTypes } from "./parse.js";
import { rehearseChanges } from "./rehearse.js";
import * as q from "./sql.js";

type Cols = ReadonlyMap<string, ColumnInfo>;

/**
 * Changes arriving a few at a time (see BUSY_WINDOW_MS) are each claimed on their NOTIFY, with no pause: at 100
 * changes/s a pause only delays them. Past that, the writers stop
 * notifying (the wake flag goes down) and the driver claims in rounds, pausing before each: short while
 * claims stay small, longer while they bring BUSY_ROWS or more. Measured with record:save from 32 callers
 * (bench/triggers.ts): always 5 ms left claims of about 9 changes and draining cost the application about
 * 30% of its write throughput; always 20 ms kept it under 25% but delayed changes arriving every 3 ms by up
 * to 20 ms (p99).
 */
const QUIET_PAUSE_MS = 5;
const BUSY_PAUSE_MS = 20;
const BUSY_ROWS = 8;
/**
 * A chain of claims on NOTIFYs (see drainChained) ends, for rounds, once BUSY_ROWS changes were claimed on
 * NOTIFYs within BUSY_WINDOW_MS (200/s), counted across chains. Writers that notify commit one at a time
 * (Postgres queues a transaction's NOTIFYs under one database-wide lock, held through its commit): with 8
 * writers' record inserts, chaining up to 4 changes a claim or 500/s took them half again as long. A burst of
 * fewer changes (writers committing together now and then) is no load: ended as soon as a claim brought two
 * changes, chains at 100 changes/s went to rounds a few times a second, and the changes of the next few ms
 * waited for a round's pause (QUIET_PAUSE_MS): a quarter of the slowest 1% (bench/peers.ts latency).
 */
const BUSY_WINDOW_MS = 40;
/**
 * In rounds, a claim takes only as many changes as this process's engine has room for, waiting up to
 * ROOM_WAIT_MS for room for ROOM_ROWS of them (see RunHandoff.whenRoom): their runs are created leased to it,
 * where runs created pending in a backlog were each claimed again. With no room by then (long runs, or
 * workflows with a concurrency limit) it claims a whole batch as before, the runs it cannot take pending.
 */
const ROOM_ROWS = 50;
const ROOM_WAIT_MS = 100;

export interface RecordDriverOptions {
  pool: pg.Pool;
  catalog: Catalog;
  appSchema: string;
  wake: () => void;
  log: Logger;
  clock: () => Date;
  env: Record<string, string>;
  loopDepth: number;
  /** An engine in this process that takes new runs without claiming them (see RunHandoff). */
  handoff?: RunHandoff;
  /** The keys, redacted from stored events. */
  secrets?: string[];
  batchSize?: number;
  pollMs?: number;
  /** run_writes rows older than this are deleted (every minute). */
  runWritesTtlMs?: number;
  /** Releases runs waiting (wait_for) for these changes (src/engine/park). */
  waits?: WaitMatcher;
  /** The pause before each claim in rounds, in place of QUIET_PAUSE_MS and BUSY_PAUSE_MS (for tests). */
  roundPauseMs?: number;
  /** The window BUSY_ROWS changes claimed on NOTIFYs must fall in for rounds, in place of BUSY_WINDOW_MS (tests). */
  busyWindowMs?: number;
  /** Opens its LISTEN (default: a connection of its own; the daemon's ListenHub shares one). */
  listen?: (o: ListenOptions) => Listener;
}

export interface RecordDriver {
  stop(): Promise<void>;
  stats(): { outboxDepth: number; lagMs?: number };
}

export async function startRecordDriver(o: RecordDriverOptions): Promise<RecordDriver> {
  const batch = o.batchSize ?? 500;
  const db = poolDb(o.pool);
  const columns = new Map<string, Cols>();
  let stopped = false;
  /** A NOTIFY came since the last claim was sent: changes may be waiting for the next one. */
  let notified = false;
  let running: Promise<void> | undefined;
  const storedVersions = new Set<string>();
  let depth = 0;
  let lagMs: number | undefined;
  let xidTimer: NodeJS.Timeout | undefined;
  /** Writers in flight when this engine raised the wake flag, not yet seen to end (see watchXids). */
  const watched = new Set<string>();
  let xidDelay = 2;
  let checkingXids = false;
  /** The claims on NOTIFYs of the last BUSY_WINDOW_MS: when (performance.now()) and how many changes each. */
  const recent: [number, number][] = [];
  const busyWindowMs = o.busyWindowMs ?? BUSY_WINDOW_MS;
  let recentRows = 0;

  const tables = await watchTables({ pool: o.pool, catalog: o.catalog, schema: o.appSchema, log: o.log });

  /** The columns of `type` read before, when they know every column of `rows`. */
  const knownColumns = (type: string, rows: OutboxRow[]): Cols | undefined => {
    const cached = columns.get(type);
    return cached && !rows.some((r) => hasUnknownColumn(r.new_row ?? r.old_row, cached)) ? cached : undefined;
  };

  const columnsFor = async (type: string, rows: OutboxRow[]): Promise<Cols> => {
    const cached = knownColumns(type, rows);
    if (cached) return cached;
    const fresh: Cols = (await loadTableColumns(o.pool, o.appSchema, type)) ?? new Map();
    columns.set(type, fresh);
    return fresh;
  };

  /**
   * Before the first claim, what its first changes would otherwise wait for: the watched tables' columns
   * (read at a change's planning), and the pool's connections opened with the claim and the runs' insert
   * prepared on each (claiming nothing and inserting nothing). A daemon started into a stream of changes (a
   * restart, a deploy) handled its first ones in 10-40 ms instead of 1-2: new backends, parses and a
   * column read on their way. Best effort: what fails here is done again when needed.
   */
  const warm = async (): Promise<void> => {
    const wfs = o.catalog.list();
    for (const type of watchedTypes(wfs)) await columnsFor(type, []);
    await warmPool(
      o.pool,
      o.pool.options.max ?? 1,
      [q.claimOutbox(o.appSchema, 0), enqueueNothing()],
      q.CLAIM_OPTIONS,
    );
    // The versions a record change may start (every enabled workflow's record triggers are on watched types).
    const starting = wfs.filter((wf) => wf.enabled && wf.triggers.some((t) => t.kind === "record"));
    await knownVersions(db, starting, storedVersions);
  };

  /** A synthetic change of each watched type rehearsed (rehearse.ts), once the columns are known. */
  const rehearse = async (): Promise<void> => {
    // Every watched type, its columns as read (none for a table with no user column, or none yet: its
    // synthetic record then has the system fields alone, and changes nothing either way).
    const types = new Map<string, Cols>(columns);
    const quiet = silentLogger();
    const t0 = performance.now();
    const runs = await rehearseChanges({
      types,
      appSchema: o.appSchema,
      workflows: o.catalog.list(),
      plan: async (rows) => plan(rows, o.catalog.list(), quiet),
      ...(o.handoff ? { handoff: o.handoff } : {}),
      secrets: o.secrets ?? [],
    });
    o.log.debug({ runs, ms: Math.round(performance.now() - t0) }, "record trigger rehearsed");
  };
  // Before the listener and the poll: their claims would wait for the connections held here.
  await warm().catch((err) => o.log.debug({ err: (err as Error).message }, "record trigger warm-up failed"));

  /** Whether some wait_for may be waiting on this change's source (the wants() that release() filters by). */
  const awaited = (r: q.ClaimedRow): boolean => o.waits?.wants(recordSource(r.record_type)) === true;

  /**
   * In a claim transaction: starts the runs of the claimed changes `rows` and releases the waits they end;
   * returns how many changes were claimed, and how many released runs were left for any engine's claim.
   */
  const startClaimed = async (
    tx: Tx,
    rows: q.ClaimedRow[],
    runs: Handover,
  ): Promise<{ n: number; released: number }> => {
    if (rows.length === 0) return { n: 0, released: 0 };
    const p = plan(rows, o.catalog.list());
    const planned = Array.isArray(p) ? p : await p;
    let released = 0;
    // wait_for (src/engine/park): the changes release the runs waiting for them, in this transaction,
    // and this process's engine takes those it has room for in it too (committing it when nothing follows).
    // Only when a change is of a source some wait_for waits on (none awaited otherwise: a change's way to its
    // runs' first statements). Asked here, not left to release()'s own filter: calling release() costs an
    // await even when it has nothing to do, and its events cost a column read each.
    if (o.waits && rows.some(awaited)) {
      const left: string[] = [];
      await o.waits.release(tx.client, await waitEvents(rows), {
        out: left,
        lease: runs.releaseLease(),
        commit: planned.length === 0 ? tx : undefined,
      });
      released = left.length;
    }
    await runs.start(tx, planned, tx);
    lagMs = o.clock().getTime() - new Date(rows[rows.length - 1]!.at).getTime();
    return { n: rows.length, released };
  };

  /** How many changes the next claim in rounds takes (see ROOM_ROWS). */
  const claimSize = async (): Promise<number> => {
    const h = o.handoff;
    if (!h?.room || !h.whenRoom) return batch;
    if (h.room() < Math.min(ROOM_ROWS, batch)) await h.whenRoom(Math.min(ROOM_ROWS, batch), ROOM_WAIT_MS);
    const room = h.room();
    return room > 0 ? Math.min(room, batch) : batch;
  };

  /**
   * Claims one batch (`limit` changes at most) and starts its runs in one transaction; returns how many
   * changes it claimed.
   */
  const drainBatch = async (limit = batch): Promise<number> => {
    const runs = handover(o.handoff, o.wake, storedVersions, o.secrets);
    notified = false;
    const { n, released } = await runs.after(
      claimTransaction(
        db,
        q.claimOutbox(o.appSchema, limit),
        (tx, rows: q.ClaimedRow[]) => startClaimed(tx, rows, runs),
        q.CLAIM_OPTIONS,
      ),
    );
    // Released runs left for a claim are due now: this process's engine looks at once, without the NOTIFY.
    if (released > 0) o.wake();
    return n;
  };

  /**
   * Claims as drainBatch does, and goes on claiming while NOTIFYs keep coming a few changes at a time: each
   * next claim goes in the round trip that commits the one before (claimChain), and each transaction's runs
   * go to the engine as it commits. Returns how many changes the last claim brought, and `busy` when the
   * changes come too fast for a claim each (see BUSY_WINDOW_MS): the caller then drains in rounds instead.
   */
  const drainChained = async (): Promise<{ last: number; busy: boolean }> => {
    let busy = false;
    const counts = await claimChain<number, q.ClaimedRow>(
      o.pool,
      q.claimOutbox(o.appSchema, batch),
      (claimed) => {
        const now = performance.now();
        recent.push([now, claimed]);
        recentRows += claimed;
        while (recent[0]![0] < now - busyWindowMs) recentRows -= recent.shift()![1];
        if (!notified || stopped) return false;
        busy = recentRows >= BUSY_ROWS;
        return !busy;
      },
      () => {
        notified = false;
      },
      async (tx, rows, committed) => {
        const runs = handover(o.handoff, o.wake, storedVersions, o.secrets);
        // Handed over as this transaction commits, while the chain goes on (a failure is claimChain's to throw).
        runs.after(committed).catch(() => {});
        const { released } = await startClaimed(tx, rows, runs);
        if (released > 0) committed.then(o.wake, () => {});
        return rows.length;
      },
      q.CLAIM_OPTIONS,
    );
    const last = counts[counts.length - 1] ?? 0;
    return { last, busy: busy || last === batch };
  };

  /**
   * The runs of the claimed changes. At once (no await: a change's way to its runs' first statements) when
   * the columns of their types are known, as they are but for a type's first change or a new column.
   */
  const plan = (
    rows: q.ClaimedRow[],
    wfs: WorkflowDefinition[],
    log: Logger = o.log,
  ): RunRequest[] | Promise<RunRequest[]> => {
    const byType = new Map<string, OutboxRow[]>();
    for (const r of rows) {
      const list = byType.get(r.record_type);
      if (list) list.push(r);
      else byType.set(r.record_type, [r]);
    }
    const cols = new Map<string, Cols>();
    const unknown: [string, OutboxRow[]][] = [];
    for (const [type, list] of byType) {
      const known = knownColumns(type, list);
      if (known) cols.set(type, known);
      else unknown.push([type, list]);
    }
    if (unknown.length === 0) return planWith(rows, cols, wfs, log);
    return (async () => {
      for (const [type, list] of unknown) cols.set(type, await columnsFor(type, list));
      return planWith(rows, cols, wfs, log);
    })();
  };

  const planWith = (
    rows: q.ClaimedRow[],
    cols: Map<string, Cols>,
    wfs: WorkflowDefinition[],
    log: Logger,
  ): RunRequest[] => {
    const out: RunRequest[] = [];
    for (const r of rows) {
      const c = parseOutboxRow(r);
      let p: ReturnType<typeof planChange>;
      try {
        if (nestsDeeper(c.row) || nestsDeeper(c.oldRow)) {
          throw new RangeError(`a field nests deeper than ${MAX_EVENT_DEPTH} levels`);
        }
        p = planChange(c, cols.get(c.recordType)!, r.parent_depth ?? undefined, wfs, {
          env: o.env,
          now: o.clock(),
          loopDepth: o.loopDepth,
          onWhenError: (wf, err) =>
            log.warn(
              { workflow: wf, event: c.eventId, err: (err as Error).message },
              "record trigger `when` failed",
            ),
        });
      } catch (err) {
        // One change that cannot be read starts nothing, and must not hold back the changes after it.
        log.error({ event: c.eventId, err: (err as Error).message }, "record trigger: change skipped");
        continue;
      }
      for (const b of p.blocked) {
        log.warn(
          { workflow: b.workflow, record: b.record, depth: b.depth, max: o.loopDepth },
          `loop guard: not starting ${b.workflow} for ${b.record}: depth ${b.depth} exceeds ${o.loopDepth}`,
        );
      }
      out.push(...p.runs);
    }
    return out;
  };

  /** The events of the changes some wait_for may be waiting for. */
  const waitEvents = async (rows: q.ClaimedRow[]) => {
    const out = [];
    for (const r of rows.filter(awaited)) {
      const c = parseOutboxRow(r);
      try {
        out.push(changeEvent(c, await columnsFor(c.recordType, [r])));
      } catch (err) {
        o.log.error({ event: c.eventId, err: (err as Error).message }, "wait_for: change skipped");
      }
    }
    return out;
  };

  const drainLoop = async (): Promise<number> => {
    let total = 0;
    for (let n = batch; n === batch && !stopped; total += n) n = await drainBatch();
    return total;
  };

  /**
   * Drains until a claim comes back short of what it asked; a backlog gets two claimers, overlapping SQL and
   * encoding. Sized by the engine's room (claimSize), a claim that filled it leaves the rest for the next
   * round, once the engine has room again.
   */
  const drainAll = async (): Promise<number> => {
    const size = await claimSize();
    if (stopped) return 0;
    const first = await drainBatch(size);
    if (size < batch || first < batch || stopped) return first;
    const more = await Promise.all([drainLoop(), drainLoop()]);
    return first + more[0]! + more[1]!;
  };

  /**
   * A wake-up by NOTIFY claims the changes, and the next ones as they notify, one claim each (see
   * drainChained). A busy one (changes coming faster) lowers the wake flag so writers stop paying
   * for NOTIFY, drains until nothing is left, raises the flag, and drains once more for writers that saw it
   * down; writers still in flight at that moment are watched until they end. The poll also re-raises it.
   * Only the engine that raises the flag does that last part: with the flag found up, every writer since
   * whoever raised it has notified, and that engine looked after the writers that came before.
   */
  const cycle = async (kind: "notify" | "poll" | "xids"): Promise<void> => {
    let n: number;
    if (kind === "notify") {
      const r = await drainChained();
      if (!r.busy) return;
      n = r.last;
    } else {
      n = await drainAll();
      if (kind === "xids") return;
      // A poll finding a few changes (their NOTIFYs on the way, or writers that saw the flag down) is no load:
      // rounds would hold back the NOTIFYs coming meanwhile, each pause (QUIET_PAUSE_MS) and claim of them.
      if (n < BUSY_ROWS) n = 0;
    }
    const lc = listener.client();
    if (!lc) return;
    // Lowered while the drain goes on: the raise below is queued behind it on the same connection.
    const lowering = kind === "notify" ? q.setArmed(lc, false) : Promise.resolve(false);
    lowering.catch(() => {});
    while (n > 0 && !stopped) {
      // While changes keep coming, let a few ms of them gather: fewer, larger claims leave the
      // application's writes more of the machine.
      if (n < batch) {
        const pause = o.roundPauseMs ?? (n >= BUSY_ROWS ? BUSY_PAUSE_MS : QUIET_PAUSE_MS);
        await new Promise((r) => setTimeout(r, pause));
      }
      n = await drainAll();
    }
    await lowering;
    if (stopped || lc !== listener.client()) return;
    const { raised, xids } = await q.raiseArmed(lc);
    if (!raised) return;
    await drainAll();
    if (xids.length > 0) watchXids(xids);
  };

  /**
   * Adds writers to those watched (all in one list, looked at together) until they end; each end drains once
   * more. The list can hold long transactions of other sessions (the snapshot is the whole server's), looked
   * at every 250 ms by then: writers added later are looked at 2 ms after, as the first ones were.
   */
  const watchXids = (xids: string[]): void => {
    const fresh = xids.filter((x) => !watched.has(x));
    if (fresh.length === 0 || stopped) return;
    for (const x of fresh) watched.add(x);
    xidDelay = 2;
    if (checkingXids) return; // the check in flight sets the next one's timer
    if (xidTimer) clearTimeout(xidTimer);
    xidTimer = setTimeout(checkXids, xidDelay);
  };

  const checkXids = async (): Promise<void> => {
    xidTimer = undefined;
    checkingXids = true;
    const xids = [...watched];
    const left = new Set(await q.stillRunning(o.pool, xids).catch(() => xids));
    checkingXids = false;
    for (const x of xids) if (!left.has(x)) watched.delete(x);
    if (left.size < xids.length) kick("xids");
    if (watched.size === 0 || stopped) return;
    xidDelay = Math.min(xidDelay * 2, 250);
    xidTimer = setTimeout(checkXids, xidDelay);
  };

  let next: "notify" | "poll" | "xids" | undefined;
  const kick = (kind: "notify" | "poll" | "xids"): void => {
    if (stopped) return;
    if (running) {
      if (next !== "notify") next = kind;
      return;
    }
    running = (async () => {
      let k: typeof kind | undefined = kind;
      while (k && !stopped) {
        next = undefined;
        try {
          await cycle(k);
        } catch (err) {
          o.log.error({ err: (err as Error).message }, "record trigger drain failed; the slow poll retries");
        }
        // A NOTIFY already answered by a claim sent after it (a chained one) needs no cycle of its own.
        k = next === "notify" && !notified ? undefined : next;
      }
      running = undefined;
    })();
  };

  // Before the listener and the poll too, once the code it runs is defined: the JavaScript of a change's way
  // to its runs' first statements, compiled before the first change (see rehearse.ts). Nothing is written
  // or logged; a failure leaves that cost to the first change.
  await rehearse().catch((err) =>
    o.log.debug({ err: (err as Error).message }, "record trigger rehearsal failed"),
  );

  // The wake flag's updates travel on this connection too, with synchronous_commit off: the flag needs no
  // durability. A reconnect drains and re-arms the flag, as the poll does (NOTIFYs meanwhile were lost).
  const listener: Listener = (o.listen ?? listen)({
    connection: o.pool.options,
    channels: [q.CHANNEL],
    setup: ["SET synchronous_commit = off"],
    onNotify: () => {
      notified = true;
      kick("notify");
    },
    onListening: () => kick("poll"),
    log: o.log,
  });

  const poll = setInterval(() => {
    kick("poll");
    q.outboxDepth(o.pool, o.appSchema).then(
      (n) => {
        depth = n;
      },
      () => {},
    );
  }, o.pollMs ?? 1_000);
  const cleaner = setInterval(() => {
    q.cleanRunWrites(o.pool, o.runWritesTtlMs ?? 3_600_000).catch((err) =>
      o.log.warn({ err: (err as Error).message }, "cleaning run_writes failed"),
    );
  }, 60_000);
  kick("poll");

  return {
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearInterval(cleaner);
      if (xidTimer) clearTimeout(xidTimer);
      await running;
      // Nobody may be listening after this; the other engines re-arm on their next poll.
      const lc = listener.client();
      if (lc) await q.setArmed(lc, false).catch(() => {});
      await listener.close();
      await tables.stop();
    },
    stats: () => ({ outboxDepth: depth, ...(lagMs === undefined ? {} : { lagMs }) }),
  };
}
