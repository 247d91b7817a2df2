// record:save (protocol §5.1): parse every record, extend the schema before any write, then save atomically
// (one transaction, 115 on any failure) or record by record (per-item errors in input order).
import { withTransaction } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { limitsOf } from "../limits.js";
import { reportUnexpected } from "../report.js";
import type { ActionRequest, ActionResult } from "../types.js";
import { rowToRecordJSON } from "./codec.js";
import { type Database, resolveDatabase } from "./database.js";
import { checkBatchSize, formatRecordId } from "./ids.js";
import { toSkygearError } from "./pg-errors.js";
import { type IncomingRecord, neededColumns, parseIncoming } from "./save-parse.js";
import { type WriteTarget, writeRecord } from "./save-write.js";
import { columnsCovering, ensureColumns, type TableColumns } from "./table.js";

type Parsed = { ok: true; rec: IncomingRecord } | { ok: false; err: SkygearServerError };

export function writableDatabase(raw: unknown, req: ActionRequest): Exclude<Database, { kind: "union" }> {
  const db = resolveDatabase(raw, req.auth);
  if (db.kind === "union") throw new SkygearServerError("NotSupported", "the union database is read-only");
  return db;
}

export async function saveRecords(req: ActionRequest): Promise<ActionResult> {
  const { payload, app } = req;
  const db = writableDatabase(payload.database_id, req);
  const rawRecords = payload.records;
  if (!Array.isArray(rawRecords) || rawRecords.length === 0) {
    throw new SkygearServerError("InvalidArgument", "expected list of record", {
      info: { arguments: ["records"] },
    });
  }
  const limits = limitsOf(app.config);
  checkBatchSize("records", rawRecords.length, limits.records);
  const atomic = payload.atomic === true;
  const parsed: Parsed[] = rawRecords.map((raw) => {
    try {
      return { ok: true, rec: parseIncoming(raw, limits.valueDepth) };
    } catch (err) {
      return { ok: false, err: toSkygearError(err) };
    }
  });
  const bad = parsed.filter((p): p is Extract<Parsed, { ok: false }> => !p.ok);
  if (atomic && bad.length > 0) {
    throw new SkygearServerError("InvalidArgument", "fails to de-serialize records", {
      info: { arguments: "records", errors: bad.map((b) => b.err.toJSON()) },
    });
  }
  const good = parsed.flatMap((p) => (p.ok ? [p.rec] : []));
  const columns = new Map<string, TableColumns>();
  for (const [type, wanted] of neededColumns(good)) {
    columns.set(type, await ensureColumns(app.pool, app.config.schema, type, wanted));
  }
  const target: WriteTarget = { schema: app.config.schema, databaseId: db.id, auth: req.auth, atomic };
  const write = (client: Parameters<typeof writeRecord>[0], rec: IncomingRecord) =>
    writeRecord(client, target, rec, columns.get(rec.id.type)!);
  // Encoding runs after the transaction: refreshing stale columns must not need a second pooled client.
  const encode = async (rec: IncomingRecord, row: Record<string, unknown>) => {
    const cols = await columnsCovering(app.pool, target.schema, rec.id.type, columns.get(rec.id.type)!, row);
    return rowToRecordJSON(rec.id.type, row, cols);
  };
  if (atomic) {
    const rows = await saveAtomic(req, good, write);
    return { result: await Promise.all(good.map((rec, i) => encode(rec, rows[i]!))) };
  }
  const result: unknown[] = [];
  for (const p of parsed) {
    if (!p.ok) {
      result.push(p.err.toItem());
      continue;
    }
    let row: Record<string, unknown>;
    try {
      row = await withTransaction(app.pool, (client) => write(client, p.rec));
    } catch (err) {
      result.push(itemError(req, err, formatRecordId(p.rec.id)));
      continue;
    }
    result.push(await encode(p.rec, row));
  }
  return { result };
}

/** A per-record error item; an unexpected one is logged, its cause left out of the answer. */
export function itemError(req: ActionRequest, err: unknown, id: string): Record<string, unknown> {
  const e = toSkygearError(err);
  reportUnexpected(req.app.log, e, { action: req.action });
  return e.toItem(id);
}

/**
 * Everything in one transaction. As v1, every record is tried (each behind a savepoint, so a refused one
 * does not abort the others), and any error rolls all back and answers 115 naming every failing record.
 */
export async function saveAtomic<T>(
  req: ActionRequest,
  recs: IncomingRecord[],
  save: (client: Parameters<typeof writeRecord>[0], rec: IncomingRecord) => Promise<T>,
): Promise<T[]> {
  const failed = new Map<string, SkygearServerError>();
  try {
    return await withTransaction(req.app.pool, async (client) => {
      const out: T[] = [];
      for (const rec of recs) {
        await client.query("SAVEPOINT skyflow_record");
        try {
          out.push(await save(client, rec));
          await client.query("RELEASE SAVEPOINT skyflow_record");
        } catch (err) {
          await client.query("ROLLBACK TO SAVEPOINT skyflow_record");
          const e = toSkygearError(err);
          reportUnexpected(req.app.log, e, { action: req.action });
          failed.set(formatRecordId(rec.id), e);
        }
      }
      if (failed.size > 0) throw new Error("atomic save failed");
      return out;
    });
  } catch (err) {
    if (failed.size === 0) throw toSkygearError(err);
    throw new SkygearServerError(
      "AtomicOperationFailure",
      "Atomic Operation rolled back due to one or more errors",
      {
        info: Object.fromEntries([...failed].map(([id, e]) => [id, e.toJSON()])),
      },
    );
  }
}
