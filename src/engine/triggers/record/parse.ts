// Record trigger, parse step: outbox rows -> typed changes, and the catalog -> the set of watched record
// types. No I/O.

import type { RecordEventOp, WorkflowDefinition } from "../../definition/types.js";
import { waitSourcesOf } from "../../park/match.js";

/** A row of skyflow.record_outbox as pg returns it (bigints arrive as strings). */
export interface OutboxRow {
  id: string;
  op: string;
  schema_name: string;
  record_type: string;
  record_key: string;
  database_id: string;
  new_row: Record<string, unknown> | null;
  old_row: Record<string, unknown> | null;
  txid: string;
  at: Date;
}

export interface RecordChange {
  outboxId: string;
  /** Stable per change and never reissued: txid (64-bit, epoch-extended) plus the outbox row id. */
  eventId: string;
  op: RecordEventOp;
  recordType: string;
  key: string;
  databaseId: string;
  /** The row after the change (null for a delete). */
  row: Record<string, unknown> | null;
  /** The row before the change (null for a create). */
  oldRow: Record<string, unknown> | null;
  at: Date;
}

const OPS: Record<string, RecordEventOp> = { insert: "create", update: "update", delete: "delete" };

export function parseOutboxRow(r: OutboxRow): RecordChange {
  const op = OPS[r.op];
  if (!op) throw new Error(`record_outbox row ${r.id} has unknown op ${r.op}`);
  return {
    outboxId: String(r.id),
    eventId: `${r.record_type}/${r.record_key}:${op}:${r.txid}.${r.id}`,
    op,
    recordType: r.record_type,
    key: r.record_key,
    databaseId: r.database_id,
    row: r.new_row,
    oldRow: r.old_row,
    at: r.at instanceof Date ? r.at : new Date(r.at),
  };
}

/** Record types that some enabled workflow watches. */
export function watchedTypes(workflows: WorkflowDefinition[]): Set<string> {
  const out = new Set<string>();
  for (const wf of workflows) {
    if (!wf.enabled) continue;
    for (const t of wf.triggers) if (t.kind === "record") out.add(t.type);
  }
  // Types a wait_for waits on are watched too (src/engine/park).
  for (const t of waitSourcesOf(workflows).records) out.add(t);
  return out;
}

/** True when the row has a user column the cached column list does not know (the table grew). */
export function hasUnknownColumn(
  row: Record<string, unknown> | null,
  columns: ReadonlyMap<string, unknown>,
): boolean {
  if (!row) return false;
  for (const k of Object.keys(row)) if (!k.startsWith("_") && !columns.has(k)) return true;
  return false;
}
