// Record trigger, rehearsal: a synthetic change of each watched record type taken the whole way from its
// outbox row to its runs' first statements, against nothing: planned by the driver's own code, its runs
// "inserted" through a transaction that sends nothing, and executed by the engine in this process against
// nothing (RunHandoff.rehearse, engine/rehearse.ts). A fresh daemon's first change paid 15-20 ms of V8
// compiling that code on its way (the changes behind it waited too); the daemon now pays it as it starts.
// No I/O: nothing is written, no run is created, nothing is counted or logged as a run.
import type { Statement } from "../../../db/pool.js";
import type { ColumnInfo } from "../../../server/records/types.js";
import type { WorkflowDefinition } from "../../definition/types.js";
import type { RunHandoff } from "../../store/claim.js";
import type { Committer, Queryable } from "../../store/enqueue.js";
import { handover, type RunRequest } from "../start-runs.js";
import { changeEvent } from "./match.js";
import { parseOutboxRow } from "./parse.js";
import type { ClaimedRow } from "./sql.js";

type Cols = ReadonlyMap<string, ColumnInfo>;

/** Runs rehearsed at most, whatever the number of workflows: the code is the same for all of them. */
const MAX_RUNS = 16;

/**
 * Changes of each type rehearsed together: the first run's `sql` step goes alone, the next two share a
 * transaction (steps/sql-group.ts), as steps ready together do at 100 changes a second.
 */
const CHANGES_PER_TYPE = 3;

/** The synthetic change's record key (and its owner), recognisable if it ever showed. */
export const REHEARSAL_KEY = "skyflow-rehearsal";

/** A value of each column type, as to_jsonb renders one. */
function sample(c: ColumnInfo): unknown {
  switch (c.type) {
    case "string":
    case "ref":
      return REHEARSAL_KEY;
    case "number":
    case "integer":
    case "seq":
      return 0;
    case "boolean":
      return false;
    case "date":
      return "2000-01-01T00:00:00";
    case "geo":
      return "(0,0)";
    case "json":
      return {};
    default:
      return null;
  }
}

/** An outbox row as a claim would return it: a record of `type` created, every column given a value. */
export function syntheticChange(type: string, schema: string, cols: Cols, n = 0): ClaimedRow {
  const key = n === 0 ? REHEARSAL_KEY : `${REHEARSAL_KEY}-${n}`;
  const row: Record<string, unknown> = {
    _id: key,
    _database_id: "",
    _owner_id: REHEARSAL_KEY,
    _access: null,
    _created_at: "2000-01-01T00:00:00",
    _created_by: REHEARSAL_KEY,
    _updated_at: "2000-01-01T00:00:00",
    _updated_by: REHEARSAL_KEY,
  };
  for (const [name, c] of cols) if (!name.startsWith("_")) row[name] = sample(c);
  return {
    id: String(n),
    op: "insert",
    schema_name: schema,
    record_type: type,
    record_key: key,
    database_id: "",
    new_row: row,
    old_row: null,
    txid: "0",
    at: new Date(),
    parent_depth: null,
  };
}

/**
 * A trigger's transaction that sends nothing: the runs' insert answers with every run created, and any
 * other statement with no rows.
 */
function dryTransaction(): Queryable & Committer {
  const rows = (s: Statement) => {
    let doc: unknown;
    try {
      doc = JSON.parse(String(s.values?.[0] ?? ""));
    } catch {
      return [];
    }
    if (!Array.isArray(doc)) return [];
    return doc.map((r: { id?: string; workflow?: string; event_id?: string; leased?: boolean }) => ({
      id: r.id,
      workflow: r.workflow,
      event_id: r.event_id,
      started_at: r.leased ? new Date() : null,
    }));
  };
  return {
    query: async () => ({ rows: [], rowCount: 0 }),
    commitWith: async (s: Statement) => {
      const out = rows(s);
      return { rows: out as never[], rowCount: out.length };
    },
  };
}

export interface RehearsalOptions {
  /** The watched record types with their columns. */
  types: Map<string, Cols>;
  appSchema: string;
  workflows: WorkflowDefinition[];
  /** The driver's planning of claimed changes (quiet: nothing logged). */
  plan(rows: ClaimedRow[]): Promise<RunRequest[]>;
  handoff?: RunHandoff;
  secrets?: string[];
}

/**
 * Rehearses a change of each watched type (see the top of this file); returns how many runs were rehearsed
 * (their trigger part, and their execution when `handoff` can rehearse). A workflow whose `when` turns down
 * the synthetic record is rehearsed all the same: its run's code is what its first real change runs.
 */
export async function rehearseChanges(o: RehearsalOptions): Promise<number> {
  const requests: RunRequest[] = [];
  for (const [type, cols] of o.types) {
    for (let n = 0; n < CHANGES_PER_TYPE; n++) {
      const row = syntheticChange(type, o.appSchema, cols, n);
      const planned = await o.plan([row]);
      const taken = new Set(planned.map((r) => r.workflow.name));
      requests.push(...planned);
      const event = changeEvent(parseOutboxRow(row), cols);
      for (const wf of o.workflows) {
        if (!wf.enabled || taken.has(wf.name)) continue;
        if (wf.triggers.some((t) => t.kind === "record" && t.type === type))
          requests.push({ workflow: wf, event, depth: 0 });
      }
    }
  }
  const picked = requests.slice(0, MAX_RUNS);
  if (picked.length === 0) return 0;
  const rehearse = o.handoff?.rehearse;
  const executing: Promise<void>[] = [];
  const handoff: RunHandoff = {
    owner: o.handoff?.owner ?? REHEARSAL_KEY,
    leaseMs: o.handoff?.leaseMs ?? 30_000,
    reserve: (n) => n,
    adopt: () => {},
    ...(rehearse && {
      launch: (runs) => {
        executing.push(rehearse(runs));
        return runs;
      },
    }),
  };
  // A set of its own: the versions the rehearsal "stored" are not, and the first real change stores them.
  const runs = handover(handoff, () => {}, new Set(), o.secrets ?? []);
  const tx = dryTransaction();
  await runs.after(runs.start(tx, picked, tx));
  await Promise.all(executing);
  return picked.length;
}
