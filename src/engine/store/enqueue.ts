// Inserts new runs into the queue, idempotently on (workflow, event id). Triggers call it inside the same
// transaction that claims their outbox rows, so a claimed change and its run commit together.
import type { Queryable, Statement, Tx } from "../../db/pool.js";
import type { TriggerEvent } from "../definition/types.js";
import { runIdFor } from "../ids.js";
import type { ClaimedRun } from "./claim.js";

export type { Queryable } from "../../db/pool.js";

/** A statement prepared once per connection: for hot statements of fixed text (no re-parse, no re-plan). */
export type NamedQuery = Statement & { name: string; values: unknown[] };

export interface NewRun {
  workflow: string;
  /** The workflow version (content hash) the run starts on; it must be in skyflow.workflow_versions. */
  version: string;
  event: TriggerEvent;
  /** How many runs' writes led to this one (the loop guard); 0 for outside events. */
  depth?: number;
  concurrencyKey?: string | null;
  /** Created already leased to `lease.owner` (handed to that engine without a claim); needs `lease`. */
  leased?: boolean;
}

/** The engine that leased runs are created for, and for how long. */
export interface NewRunLease {
  owner: string;
  leaseMs: number;
  /**
   * With `commit` (enqueueRuns): the runs to be created leased, as a claim would return them, given before
   * the insert and its COMMIT are sent, each with `ready` (see ClaimedRun); what it returns, the insert
   * waits for.
   */
  sent?(runs: ClaimedRun[]): Promise<void> | undefined;
}

export interface CreatedRun {
  id: string;
  workflow: string;
  eventId: string;
  /** For a run created leased: the run as a claim would have returned it, for the lease's engine. */
  leased?: ClaimedRun;
}

/** A transaction that can send its last statement with the COMMIT (see `commit` of enqueueRuns; db/pool.ts Tx). */
export type Committer = Pick<Tx, "commitWith">;

const ENQUEUE_SQL = `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, depth, concurrency_key,
                                status, lease_owner, lease_until, started_at)
     SELECT id, workflow, version, event_id, event, depth, concurrency_key,
            CASE WHEN leased THEN 'running' ELSE 'pending' END,
            CASE WHEN leased THEN $2::text END,
            -- From the statement's own time, not the transaction's start: the engine counts its lease from
            -- a moment before this statement was sent (see LeaseFence).
            CASE WHEN leased THEN clock_timestamp() + $3::int * interval '1 millisecond' END,
            CASE WHEN leased THEN now() END
     FROM jsonb_to_recordset($1::jsonb) AS u(ord int, id uuid, workflow text, version text, event_id text,
                                             event jsonb, depth int, concurrency_key text, leased bool)
     ORDER BY ord
     -- No target: the primary key (the id is derived from workflow and event id), and the UNIQUE
     -- (workflow, event_id) where runs with ids derived otherwise keep it (migration 125).
     ON CONFLICT DO NOTHING
     RETURNING id, workflow, event_id, started_at`;

/** The runs' insert with no run in it: it inserts nothing, and prepares the statement where it runs (warmPool). */
export function enqueueNothing(): NamedQuery {
  return { name: "skyflow_enqueue_runs", text: ENQUEUE_SQL, values: ["[]", null, null] };
}

/**
 * Returns the runs actually created (an event id already seen for that workflow creates nothing). Runs are
 * numbered (`seq`) in the order given, which claims follow. With `commit`, the insert is the transaction's
 * last statement and goes with its COMMIT, in one round trip (pipelined, its values bound): a trigger's
 * transaction is one round trip shorter, between a change and its run's first step.
 */
export async function enqueueRuns(
  db: Queryable,
  runs: NewRun[],
  lease?: NewRunLease,
  commit?: Committer,
): Promise<CreatedRun[]> {
  if (runs.length === 0) return [];
  // One JSON document rather than one array per column: as jsonb[] elements, the events (whole records, for
  // record triggers) were escaped a second time, quote by quote.
  const ids = runs.map((r) => runIdFor(r.workflow, r.event.id));
  // Built once the runs started early have sent their first statements (see NewRunLease.sent): the events'
  // JSON is not on their way.
  const statement = () => {
    const doc = JSON.stringify(
      runs.map((r, i) => ({
        ord: i,
        id: ids[i],
        workflow: r.workflow,
        version: r.version,
        event_id: r.event.id,
        event: r.event,
        depth: r.depth ?? 0,
        concurrency_key: r.concurrencyKey ?? null,
        leased: lease !== undefined && r.leased === true,
      })),
    );
    return { ...enqueueNothing(), values: [doc, lease?.owner ?? null, lease?.leaseMs ?? null] };
  };
  type Row = { id: string; workflow: string; event_id: string; started_at: Date | null };
  let rows: Row[];
  let early: Early | undefined;
  if (commit) {
    early = lease?.sent ? sendEarly(runs, ids, lease.sent) : undefined;
    if (early?.before) await early.before;
    try {
      rows = (await commit.commitWith<Row>(statement())).rows;
    } catch (err) {
      early?.settle(undefined);
      throw err;
    }
  } else {
    rows = (await db.query<Row>(statement())).rows;
  }
  early?.settle(rows);
  // The rows inserted now: each has the id derived for it above.
  const given = new Map(ids.map((id, i) => [id, runs[i]!]));
  return rows.map((row) => {
    const created: CreatedRun = { id: row.id, workflow: row.workflow, eventId: row.event_id };
    const r = given.get(row.id);
    if (row.started_at && r) {
      const sent = early?.runs.get(row.id);
      if (sent) sent.started_at = row.started_at;
      created.leased = sent ?? leasedRun(row.id, r, row.started_at);
    }
    return created;
  });
}

/** A run created leased, as a claim would have returned it. */
function leasedRun(id: string, r: NewRun, startedAt: Date): ClaimedRun {
  return {
    id,
    workflow: r.workflow,
    version: r.version,
    event: r.event as unknown as Record<string, unknown>,
    depth: r.depth ?? 0,
    status: "running",
    snapshot: null,
    attempt: 1,
    concurrency_key: r.concurrencyKey ?? null,
    started_at: startedAt,
    claims: 0,
  };
}

/** The leased runs given to NewRunLease.sent, by id, and how their `ready` settles. */
interface Early {
  runs: Map<string, ClaimedRun>;
  /** What the insert waits for (NewRunLease.sent). */
  before: Promise<void> | undefined;
  /** With the insert's rows once its COMMIT is answered; undefined when it failed. */
  settle(rows: { id: string; started_at: Date | null }[] | undefined): void;
}

function sendEarly(runs: NewRun[], ids: string[], sent: NonNullable<NewRunLease["sent"]>): Early | undefined {
  const byId = new Map<string, ClaimedRun>();
  const settles = new Map<string, (created: boolean) => void>();
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i]!;
    if (!r.leased) continue;
    const run = leasedRun(ids[i]!, r, new Date());
    run.ready = new Promise<void>((resolve, reject) => {
      settles.set(run.id, (created) =>
        created ? resolve() : reject(new Error(`run ${run.id} was not created`)),
      );
    });
    // Whoever the run went to awaits it; when nobody did, its failure is no error of the process.
    run.ready.catch(() => {});
    byId.set(run.id, run);
  }
  if (byId.size === 0) return undefined;
  return {
    runs: byId,
    before: sent([...byId.values()]),
    settle(rows) {
      const created = new Set(rows?.filter((r) => r.started_at).map((r) => r.id));
      for (const [id, settle] of settles) settle(created.has(id));
    },
  };
}
