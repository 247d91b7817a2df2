// The durable saves of a run in flight, as items for the group-commit batcher (batch.ts): the run row's new
// state, conditional on this engine still holding the lease, plus the step try rows and run_writes rows
// written in the same statement (so all or none).
import type { TryResult } from "../machine.js";
import type { RunState } from "../state.js";
import { isTerminal } from "../state.js";
import type { SaveItem, TryRow } from "./batch.js";
import type { Queryable } from "./enqueue.js";
import type { RunWrite } from "./writes.js";

export interface SaveTarget {
  runId: string;
  owner: string;
}

/** A try as it begins, with its (already redacted) input. */
export interface BeginTry {
  stepKey: string;
  kind: string;
  attempt: number;
  input: unknown;
}

function runFields(t: SaveTarget, state: RunState, parkMs: number | undefined) {
  return {
    runId: t.runId,
    owner: t.owner,
    ...runState(state),
    status: parkMs !== undefined ? "waiting" : state.status,
    parkMs: parkMs ?? null,
  };
}

/** The run row's columns for `state`, as a save stores them (and a step's own COMMIT: commit-try.ts). */
export function runState(state: RunState): { snapshot: string; status: string; error: string | null } {
  return {
    snapshot: snapshotJSON(state),
    status: state.status,
    error: isTerminal(state.status) && state.error ? JSON.stringify(state.error) : null,
  };
}

// A step's entry never changes once made (the moves of state.ts make new ones), and each save of a run
// holds every entry so far: each is serialized once, not once per later save.
const entryJSON = new WeakMap<object, string>();

/**
 * The snapshot as runs.snapshot stores it: the state without the steps' outputs. An output is stored once,
 * in its try's row (step_tries.output, written when the try ends), and read back from there when the run
 * resumes (stepOutputs). Kept in the snapshot, it was written again by every later save of the run: a
 * query's 1.4 KB of records three times more in bench/engine.ts's three-step workflow, which cost the save
 * statement about 25% more execution time.
 */
export function snapshotJSON(state: RunState): string {
  const { steps, ...rest } = state;
  const parts: string[] = [];
  for (const key of Object.keys(steps)) {
    const entry = steps[key]!;
    let text = entryJSON.get(entry);
    if (text === undefined) {
      const { output: _stored, ...kept } = entry;
      text = JSON.stringify(kept);
      entryJSON.set(entry, text);
    }
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"steps":{${parts.join(",")}}}`;
}

/** The row of a try that ended with `r` (its input only when its begin is written in the same save). */
function endRow(state: RunState, r: TryResult, input: string | null): TryRow {
  return {
    runAttempt: state.attempt,
    stepKey: r.stepKey,
    attempt: r.attempt,
    kind: r.kind,
    status: r.status === "retrying" ? "failed" : r.status,
    input,
    output: json(r.output),
    error: r.error ? JSON.stringify(r.error) : null,
    finished: true,
  };
}

/** The row of a try as it begins (as beginItem has it). */
export function beginRow(state: RunState, tr: BeginTry): TryRow {
  return {
    runAttempt: state.attempt,
    stepKey: tr.stepKey,
    attempt: tr.attempt,
    kind: tr.kind,
    status: "running",
    input: json(tr.input),
    output: null,
    error: null,
    finished: false,
  };
}

/** The state as a try begins. */
export function beginItem(t: SaveTarget, state: RunState, tr: BeginTry): SaveItem {
  return { ...runFields(t, state, undefined), tries: [beginRow(state, tr)] };
}

/**
 * The state after a transition, ending the try row when there is one, with the writes the try made; with
 * `next`, the next step's try begins in the same save (`state` is then the state as that try begins).
 */
export function stateItem(
  t: SaveTarget,
  state: RunState,
  opts: {
    result?: TryResult;
    /** The result's try row is written already (in its step's transaction: see commitTry). */
    resultSaved?: boolean;
    parkMs?: number;
    writes?: { depth: number; list: RunWrite[] };
    next?: BeginTry;
  } = {},
): SaveItem {
  const r = opts.result;
  const item: SaveItem = { ...runFields(t, state, opts.parkMs), tries: [] };
  if (opts.writes && opts.writes.list.length > 0) item.writes = opts.writes;
  if (r && r.status !== "skipped" && !opts.resultSaved) {
    item.tries.push(endRow(state, r, null));
  }
  if (opts.next) item.tries.push(beginRow(state, opts.next));
  return item;
}

/**
 * The state with the try rows of inner steps (tree.ts): each result ends its row (with its input when its
 * begin is in this same save), each other begin starts one.
 */
export function treeItem(
  t: SaveTarget,
  state: RunState,
  rows: {
    results: TryResult[];
    begins: (BeginTry & { ended?: boolean })[];
    committed: ReadonlySet<string>;
  },
  writes?: { depth: number; list: RunWrite[] },
  nowMs?: number,
): SaveItem {
  const item: SaveItem = { ...runFields(t, state, undefined), tries: [] };
  if (writes && writes.list.length > 0) item.writes = writes;
  const id = (k: string, a: number) => `${k}\u0000${a}`;
  const inputs = new Map(rows.begins.filter((b) => b.ended).map((b) => [id(b.stepKey, b.attempt), b.input]));
  for (const r of rows.results) {
    const key = id(r.stepKey, r.attempt);
    if (rows.committed.has(key)) continue;
    const merged = inputs.has(key);
    item.tries.push({
      ...endRow(state, r, merged ? json(inputs.get(key)) : null),
      // Written once, as it ends: started_at is dated back to when it began (keeping the order of tries).
      ...(merged
        ? {
            startedAgoMs:
              nowMs !== undefined && r.startedAt !== undefined ? nowMs - r.startedAt : r.durationMs,
          }
        : {}),
    });
  }
  for (const b of rows.begins) if (!b.ended) item.tries.push(beginRow(state, b));
  return item;
}

function json(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}

/**
 * The outputs of a run's succeeded steps, by step key: each step's latest succeeded try, over all the
 * run's attempts (a manual retry keeps the steps before the one that failed).
 */
export async function stepOutputs(db: Queryable, runId: string): Promise<Map<string, unknown>> {
  const { rows } = await db.query<{ outputs: Record<string, unknown> }>(
    `SELECT ${stepOutputsOf("$1::uuid")} AS outputs`,
    [runId],
  );
  return outputsMap(rows[0]!.outputs);
}

/** stepOutputsOf's object as stepOutputs returns it (a JSON null output reads as {}). */
export function outputsMap(outputs: Record<string, unknown>): Map<string, unknown> {
  return new Map(Object.entries(outputs).map(([k, v]) => [k, v ?? {}]));
}

/**
 * SQL for the outputs of the run whose id is `runId` (an SQL expression), as one JSON object: each step's
 * output from its last succeeded try ({} for a try with none). Also read with a run's claim (claim.ts).
 */
export function stepOutputsOf(runId: string): string {
  return `(SELECT coalesce(jsonb_object_agg(o.step_key, coalesce(o.output, '{}'::jsonb)), '{}'::jsonb)
     FROM (SELECT DISTINCT ON (t.step_key) t.step_key, t.output FROM skyflow.step_tries t
           WHERE t.run_id = ${runId} AND t.status = 'succeeded'
           ORDER BY t.step_key, t.run_attempt DESC, t.attempt DESC) o)`;
}
