// skyflow.run_writes rows for the records a run's save and delete steps wrote, so the record trigger's
// loop guard can tell the run's own writes from outside changes.
import type { Queryable } from "./enqueue.js";

export interface RunWrite {
  recordType: string;
  recordKey: string;
  op: "save" | "delete";
  updatedAt: string | null;
}

/** The writes a step's output describes: `{record}` / `{records}` of save, `{deleted}` of delete. */
export function writesOf(kind: string, output: unknown): RunWrite[] {
  const o = (output ?? {}) as { record?: unknown; records?: unknown[]; deleted?: unknown[] };
  if (kind === "save") {
    const recs = o.records ?? (o.record ? [o.record] : []);
    return recs.flatMap((r) => {
      const rec = r as { _id?: unknown; _updated_at?: unknown };
      const split = splitId(rec._id);
      if (!split) return [];
      return [{ ...split, op: "save" as const, updatedAt: timeOf(rec._updated_at) }];
    });
  }
  if (kind === "delete") {
    return (o.deleted ?? []).flatMap((id) => {
      const split = splitId(id);
      return split ? [{ ...split, op: "delete" as const, updatedAt: null }] : [];
    });
  }
  return [];
}

/**
 * The writes a save or delete try is about to make, from its resolved input, saved (durably) when the try
 * begins. The record trigger may claim the change before the try's end is saved; these rows let it see that
 * the change is the run's own all the same (they match any change of that record while they live).
 */
export function intentsOf(kind: string, input: unknown): RunWrite[] {
  const i = (input ?? {}) as { record?: { _id?: unknown }; records?: { _id?: unknown }[]; ids?: unknown[] };
  const ids =
    kind === "save"
      ? (i.records ?? (i.record ? [i.record] : [])).map((r) => r?._id)
      : kind === "delete"
        ? (i.ids ?? [])
        : [];
  const op = kind === "delete" ? ("delete" as const) : ("save" as const);
  return ids.flatMap((id) => {
    const split = splitId(id);
    return split ? [{ ...split, op, updatedAt: null }] : [];
  });
}

function splitId(id: unknown): { recordType: string; recordKey: string } | undefined {
  if (typeof id !== "string") return undefined;
  const i = id.indexOf("/");
  if (i <= 0) return undefined;
  return { recordType: id.slice(0, i), recordKey: id.slice(i + 1) };
}

function timeOf(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { $date?: unknown }).$date === "string") {
    return (v as { $date: string }).$date;
  }
  return null;
}

export async function insertRunWrites(
  db: Queryable,
  runId: string,
  depth: number,
  writes: RunWrite[],
): Promise<void> {
  if (writes.length === 0) return;
  await db.query(
    `INSERT INTO skyflow.run_writes (record_type, record_key, op, updated_at, run_id, depth)
     SELECT t, k, o, u, $5, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS x(t, k, o, u)`,
    [
      writes.map((w) => w.recordType),
      writes.map((w) => w.recordKey),
      writes.map((w) => w.op),
      writes.map((w) => w.updatedAt),
      runId,
      depth,
    ],
  );
}
