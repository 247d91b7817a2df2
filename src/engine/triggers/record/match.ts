// Record trigger, match step: a change and its encoded record -> the event and the workflows it starts,
// and the loop guard's verdict. No I/O.

import { redact } from "../../../errors.js";
import { rowToRecordJSON } from "../../../server/records/codec.js";
import type { ColumnInfo } from "../../../server/records/types.js";
import type { TriggerEvent, WorkflowDefinition } from "../../definition/types.js";
import { matchTriggers } from "../context.js";
import type { RunRequest } from "../start-runs.js";
import type { RecordChange } from "./parse.js";

export function databaseName(databaseId: string): "_public" | "_private" {
  return databaseId === "" ? "_public" : "_private";
}

export function recordEvent(
  change: RecordChange,
  record: Record<string, unknown>,
  original: Record<string, unknown> | null,
): TriggerEvent {
  return {
    id: change.eventId,
    type: "record",
    at: change.at.toISOString(),
    op: change.op,
    record_type: change.recordType,
    database: databaseName(change.databaseId),
    // Credential fields are not kept, not even for `when`: no part of a workflow reads them.
    record: redact(record),
    original: redact(original),
  };
}

function databaseMatches(filter: "_public" | "_private" | "_any", databaseId: string): boolean {
  return filter === "_any" || filter === databaseName(databaseId);
}

/** Enabled workflows with a record trigger on this type, database and op whose `when` passes. */
export function matchRecordChange(
  change: RecordChange,
  event: TriggerEvent,
  workflows: WorkflowDefinition[],
  env: Record<string, string>,
  now: Date,
  onWhenError: (wf: WorkflowDefinition, err: unknown) => void,
): WorkflowDefinition[] {
  return matchTriggers(
    event,
    workflows,
    { env, now, onWhenError },
    (t) =>
      t.kind === "record" &&
      t.type === change.recordType &&
      t.events.includes(change.op) &&
      databaseMatches(t.database, change.databaseId),
  );
}

/**
 * The loop guard: a change written by a run at depth d starts runs at d + 1; past `maxDepth` it starts none.
 * `parentDepth` is undefined for a change no run made.
 */
export function loopVerdict(
  parentDepth: number | undefined,
  maxDepth: number,
): { depth: number; allowed: boolean } {
  const depth = parentDepth === undefined ? 0 : parentDepth + 1;
  return { depth, allowed: depth <= maxDepth };
}

export interface ChangePlan {
  runs: RunRequest[];
  /** Workflows the loop guard kept from starting. */
  blocked: { workflow: string; record: string; depth: number }[];
}

/** A change's event, its record encoded as record:query would. */
export function changeEvent(c: RecordChange, cols: ReadonlyMap<string, ColumnInfo>): TriggerEvent {
  const record = rowToRecordJSON(c.recordType, (c.row ?? c.oldRow)!, cols);
  const original = c.op === "update" && c.oldRow ? rowToRecordJSON(c.recordType, c.oldRow, cols) : null;
  return recordEvent(c, record, original);
}

/** One change -> the runs to start: encode (as record:query would), match, then the loop guard. */
export function planChange(
  c: RecordChange,
  cols: ReadonlyMap<string, ColumnInfo>,
  parentDepth: number | undefined,
  wfs: WorkflowDefinition[],
  o: {
    env: Record<string, string>;
    now: Date;
    loopDepth: number;
    onWhenError: (wf: string, err: unknown) => void;
  },
): ChangePlan {
  const event = changeEvent(c, cols);
  const record = event.record as Record<string, unknown>;
  const hits = matchRecordChange(c, event, wfs, o.env, o.now, (wf, err) => o.onWhenError(wf.name, err));
  const verdict = loopVerdict(parentDepth, o.loopDepth);
  if (!verdict.allowed) {
    const id = String(record["_id"]);
    return { runs: [], blocked: hits.map((wf) => ({ workflow: wf.name, record: id, depth: verdict.depth })) };
  }
  return { runs: hits.map((wf) => ({ workflow: wf, event, depth: verdict.depth })), blocked: [] };
}
