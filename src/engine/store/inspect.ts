// Reading runs for people and tools (CLI `runs`, dashboard, `trigger`), and the manual moves on a finished
// run: retry from the failed step, cancel a run that has not finished.
import type { Db, Queryable } from "../../db/pool.js";
import { compileStoredSource } from "../compile.js";
import type { Catalog } from "../definition/types.js";
import type { WaitInfo } from "../park/wait-info.js";
import { createDefinitions } from "../versions.js";
import { type FirstStepOf, onFirstStep, parkedStatus, parkedSteps, type SavedSteps } from "./shown-steps.js";

export interface RunRecord {
  id: string;
  workflow: string;
  version: string;
  eventId: string;
  event: Record<string, unknown>;
  depth: number;
  status: string;
  attempt: number;
  concurrencyKey: string | null;
  /** The saved run state (src/engine/state.ts RunState), null before the first step began. */
  snapshot: unknown;
  error: { name: string; message: string; step: string } | null;
  leaseOwner: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
  /** What a sleeping or waiting run waits for and until when (src/engine/park WaitInfo). */
  wait?: {
    kind: string;
    step: string;
    began: string;
    until?: string;
    source?: string;
    child?: string;
    /** Parked inside a foreach or parallel: each inner step that waits (src/engine/park/inner.ts). */
    inner?: { kind: string; step: string; began: string; until?: string; source?: string; child?: string }[];
  } | null;
  /** The run whose `call` step started this one. */
  parentId?: string | null;
}

export interface StepTryRecord {
  stepKey: string;
  kind: string;
  attempt: number;
  runAttempt: number;
  status: string;
  input: unknown;
  output: unknown;
  error: { name: string; message: string; retryable?: boolean } | null;
  startedAt: Date;
  finishedAt: Date | null;
  /** Shown, not stored (yet): a new run's first try, running before its row is saved (shown-steps.ts). */
  unsaved?: true;
}

const RUN_COLUMNS = `id, workflow, version, event_id AS "eventId", event, depth, status, attempt,
  concurrency_key AS "concurrencyKey", snapshot, error, lease_owner AS "leaseOwner", created_at AS "createdAt",
  started_at AS "startedAt", finished_at AS "finishedAt", updated_at AS "updatedAt", wait, parent_id AS "parentId"`;

export async function listRuns(
  db: Queryable,
  opts: { workflow?: string; status?: string; limit?: number } = {},
): Promise<RunRecord[]> {
  const { rows } = await db.query<RunRecord & Record<string, unknown>>(
    `SELECT ${RUN_COLUMNS} FROM skyflow.runs
     WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text IS NULL OR status = $2)
     ORDER BY created_at DESC, id LIMIT $3`,
    [opts.workflow ?? null, opts.status ?? null, opts.limit ?? 50],
  );
  return rows;
}

/**
 * A run and its step tries in the order they began, as shown: an open try whose step is parked as sleeping
 * or waiting, and a new run's first try before its row is saved as running (shown-steps.ts; the first step
 * from `firstStep`, by default compiled from the run's stored version). Undefined when there is no
 * such run. Tries written in one save share its now() as started_at (a first try saved only as it ends, with
 * the next step's begin, when it took under a millisecond): of those the one that finished first began
 * first, and a tie left to the sort came back in another order on Postgres 18.
 */
export async function getRun(
  db: Queryable,
  id: string,
  opts: { firstStep?: FirstStepOf } = {},
): Promise<(RunRecord & { tries: StepTryRecord[] }) | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await db.query<RunRecord & Record<string, unknown>>(
    `SELECT ${RUN_COLUMNS} FROM skyflow.runs WHERE id = $1`,
    [id],
  );
  const run = rows[0];
  if (!run) return undefined;
  const tries = await db.query<StepTryRecord & Record<string, unknown>>(
    `SELECT step_key AS "stepKey", kind, attempt, run_attempt AS "runAttempt", status, input, output, error,
            started_at AS "startedAt", finished_at AS "finishedAt"
     FROM skyflow.step_tries WHERE run_id = $1
     ORDER BY started_at, finished_at NULLS LAST, run_attempt, attempt, step_key`,
    [id],
  );
  const steps = (run.snapshot as { steps?: SavedSteps } | null)?.steps;
  const parked = parkedSteps(run.status, run.wait as WaitInfo | null, steps);
  const shown: StepTryRecord[] = tries.rows.map((t) => ({
    ...t,
    status: parkedStatus(t.status, t.finishedAt, parked.get(t.stepKey)),
  }));
  if (onFirstStep(run.status, run.snapshot, shown.length)) {
    const first = await (opts.firstStep ?? firstStepOf(db))(run.workflow, run.version);
    if (first)
      shown.push({
        stepKey: first.key,
        kind: first.kind,
        attempt: 1,
        runAttempt: run.attempt,
        status: "running",
        input: null,
        output: null,
        error: null,
        startedAt: run.startedAt ?? run.updatedAt,
        finishedAt: null,
        unsaved: true,
      });
  }
  return { ...run, tries: shown };
}

/**
 * The first step of a workflow's version, from the definition a run of it executes (versions.ts: `catalog`'s
 * when it has that version, else compiled from skyflow.workflow_versions, cached); undefined when that
 * version is not stored or no longer compiles.
 */
export function firstStepOf(
  db: Queryable,
  catalog: Pick<Catalog, "get"> = { get: () => undefined },
): FirstStepOf {
  const defs = createDefinitions(db, catalog, compileStoredSource);
  return async (workflow, version) => {
    const def = await defs.definitionFor(workflow, version).catch(() => undefined);
    const step = def?.steps[0];
    return step ? { key: step.key, kind: step.kind } : undefined;
  };
}

/**
 * Queues a failed (or cancelled) run again from the step that failed it: steps before it keep their outputs,
 * the failed step gets a fresh set of tries. Returns false when the run is not in a state to retry.
 */
export async function retryRun(db: Db, id: string): Promise<boolean> {
  return db.tx(async (c) => {
    const { rows } = await c.query<{
      status: string;
      snapshot: Record<string, unknown> | null;
      attempt: number;
    }>("SELECT status, snapshot, attempt FROM skyflow.runs WHERE id = $1 FOR UPDATE", [id]);
    const run = rows[0];
    if (!run || (run.status !== "failed" && run.status !== "cancelled")) return false;
    const snap = run.snapshot;
    // The engine rebuilds the state from the step list at claim time (state.ts retryFromFailure).
    const next = snap ? { ...snap, retry: true } : null;
    await c.query(
      `UPDATE skyflow.runs SET status = 'pending', snapshot = $2::jsonb, error = NULL, finished_at = NULL,
         lease_owner = NULL, lease_until = NULL, available_at = now(), attempt = attempt + 1, updated_at = now()
       WHERE id = $1`,
      [id, next === null ? null : JSON.stringify(next)],
    );
    return true;
  });
}

/** Cancels a run that no engine is executing right now (pending or waiting). */
export async function cancelRun(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE skyflow.runs SET status = 'cancelled', finished_at = now(), updated_at = now(),
       lease_owner = NULL, lease_until = NULL
     WHERE id = $1 AND status IN ('pending', 'waiting')`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}
