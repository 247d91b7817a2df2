// Record trigger, drive step: keeps skyflow's row trigger on the watched tables, wakes on NOTIFY (or the slow
// poll), claims outbox batches and starts their runs in the same transaction. Owns all record-trigger I/O.
import type pg from "pg";
import { withTransaction } from "../../../db/pool.js";
import type { Logger } from "../../../log.js";
import { rowToRecordJSON } from "../../../server/records/codec.js";
import { loadTableColumns } from "../../../server/records/table.js";
import type { ColumnInfo } from "../../../server/records/types.js";
import type { Catalog, WorkflowDefinition } from "../../definition/types.js";
import { type Listener, startListener } from "../listen.js";
import type { RunRequest } from "../start-runs.js";
import { startRuns } from "../start-runs.js";
import { watchTables } from "./attach.js";
import { loopVerdict, matchRecordChange, recordEvent } from "./match.js";
import {
  hasUnknownColumn,
  type OutboxRow,
  parseOutboxRow,
  type RecordChange,
  rowUpdatedAt,
} from "./parse.js";
import * as q from "./sql.js";

type Cols = ReadonlyMap<string, ColumnInfo>;

export interface RecordDriverOptions {
  pool: pg.Pool;
  catalog: Catalog;
  appSchema: string;
  wake: () => void;
  log: Logger;
  clock: () => Date;
  env: Record<string, string>;
  loopDepth: number;
  batchSize?: number;
  pollMs?: number;
  /** run_writes rows older than this are deleted (every minute). */
  runWritesTtlMs?: number;
}

export interface RecordDriver {
  stop(): Promise<void>;
  stats(): { outboxDepth: number; lagMs?: number };
}

export async function startRecordDriver(o: RecordDriverOptions): Promise<RecordDriver> {
  const batch = o.batchSize ?? 500;
  const columns = new Map<string, Cols>();
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let depth = 0;
  let lagMs: number | undefined;
  let xidTimer: NodeJS.Timeout | undefined;

  const tables = await watchTables({ pool: o.pool, catalog: o.catalog, schema: o.appSchema, log: o.log });

  const columnsFor = async (type: string, rows: OutboxRow[]): Promise<Cols> => {
    const cached = columns.get(type);
    if (cached && !rows.some((r) => hasUnknownColumn(r.new_row ?? r.old_row, cached))) return cached;
    const fresh: Cols = (await loadTableColumns(o.pool, o.appSchema, type)) ?? new Map();
    columns.set(type, fresh);
    return fresh;
  };

  /** Claims one batch and starts its runs in one transaction; returns how many changes it claimed. */
  const drainBatch = async (): Promise<number> => {
    const workflows = o.catalog.list();
    const r = await withTransaction(o.pool, async (tx) => {
      const rows = await q.claimOutbox(tx, o.appSchema, batch);
      if (rows.length === 0) return { claimed: 0, created: 0 };
      const created = await startRuns(tx, await plan(tx, rows, workflows));
      lagMs = o.clock().getTime() - new Date(rows[rows.length - 1]!.at).getTime();
      return { claimed: rows.length, created: created.length };
    });
    if (r.created > 0) o.wake();
    return r.claimed;
  };

  const plan = async (
    tx: pg.PoolClient,
    rows: OutboxRow[],
    wfs: WorkflowDefinition[],
  ): Promise<RunRequest[]> => {
    const changes = rows.map(parseOutboxRow);
    const probes = changes.map((c) => ({
      type: c.recordType,
      key: c.key,
      op: c.op,
      updatedAt: c.op === "delete" ? null : rowUpdatedAt(c.row),
    }));
    const parents = await q.runWriteDepths(tx, probes);
    const byType = new Map<string, OutboxRow[]>();
    for (const r of rows) byType.set(r.record_type, [...(byType.get(r.record_type) ?? []), r]);
    const cols = new Map<string, Cols>();
    for (const [type, list] of byType) cols.set(type, await columnsFor(type, list));
    const out: RunRequest[] = [];
    changes.forEach((c, i) => {
      out.push(...planOne(c, cols.get(c.recordType)!, parents.get(i), wfs));
    });
    return out;
  };

  const planOne = (
    c: RecordChange,
    cols: Cols,
    parentDepth: number | undefined,
    wfs: WorkflowDefinition[],
  ): RunRequest[] => {
    const record = rowToRecordJSON(c.recordType, (c.row ?? c.oldRow)!, cols);
    const original = c.op === "update" && c.oldRow ? rowToRecordJSON(c.recordType, c.oldRow, cols) : null;
    const event = recordEvent(c, record, original);
    const hits = matchRecordChange(c, event, wfs, o.env, o.clock(), (wf, err) =>
      o.log.warn(
        { workflow: wf.name, event: event.id, err: (err as Error).message },
        "record trigger `when` failed",
      ),
    );
    const verdict = loopVerdict(parentDepth, o.loopDepth);
    if (!verdict.allowed && hits.length > 0) {
      for (const wf of hits) {
        o.log.warn(
          { workflow: wf.name, record: record["_id"], depth: verdict.depth, max: o.loopDepth },
          `loop guard: not starting ${wf.name} for ${String(record["_id"])}: depth ${verdict.depth} exceeds ${o.loopDepth}`,
        );
      }
      return [];
    }
    return hits.map((wf) => ({ workflow: wf, event, depth: verdict.depth }));
  };

  const drainAll = async (): Promise<void> => {
    while (!stopped && (await drainBatch()) === batch) {}
  };

  /**
   * One wake-up: disarm the flag (writers stop notifying while we are busy), drain, re-arm, then drain again
   * for writers that saw the flag down. Writers still in flight at the re-arm are watched until they end.
   */
  const cycle = async (disarm: boolean): Promise<void> => {
    const lc = listener.client();
    if (lc && disarm) void q.setArmed(lc, false).catch(() => {});
    await drainAll();
    if (lc && lc === listener.client()) {
      await q.setArmed(lc, true);
      const xids = await q.inProgressTxids(lc);
      await drainAll();
      if (xids.length > 0) watchXids(xids, 2);
    }
  };

  const watchXids = (xids: string[], delay: number): void => {
    if (xidTimer || stopped) return;
    xidTimer = setTimeout(async () => {
      xidTimer = undefined;
      const left = await q.stillRunning(o.pool, xids).catch(() => xids);
      if (left.length < xids.length) kick();
      if (left.length > 0) watchXids(left, Math.min(delay * 2, 250));
    }, delay);
  };

  /** `notified`: a writer (or a reconnect) asked; the slow poll only checks and re-arms. */
  const kick = (notified = true): void => {
    if (stopped) return;
    if (running) {
      again ||= notified;
      return;
    }
    running = (async () => {
      let disarm = notified;
      do {
        again = false;
        try {
          await cycle(disarm);
        } catch (err) {
          o.log.error({ err: (err as Error).message }, "record trigger drain failed; the slow poll retries");
        }
        disarm = true;
      } while (again && !stopped);
      running = undefined;
    })();
  };

  const listener: Listener = startListener({
    connection: o.pool.options as pg.ClientConfig,
    channel: q.CHANNEL,
    onNotify: () => kick(),
    onConnect: () => kick(),
    log: o.log,
  });

  const poll = setInterval(() => {
    kick(false);
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
  kick();

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
      await listener.stop();
      await tables.stop();
    },
    stats: () => ({ outboxDepth: depth, ...(lagMs === undefined ? {} : { lagMs }) }),
  };
}
