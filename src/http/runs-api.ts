// The dashboard's run data: the filtered run list (workflow, status, since, id prefix) and one run with its
// step tries, parent and child runs. Rows are read as to_jsonb so columns added later (a run's output, who a
// step acted as) reach the page without a change here; everything shown is redacted again.

import type { WaitInfo } from "../engine/park/wait-info.js";
import type { Queryable } from "../engine/store/enqueue.js";
import { firstStepOf } from "../engine/store/inspect.js";
import { type FirstStepOf, onFirstStep, parkedStatus, parkedSteps } from "../engine/store/shown-steps.js";
import { keySegments, stepTree } from "../engine/store/step-tree.js";
import { redact } from "../errors.js";
import type { RunDetail, RunSummary, TryView } from "./api-types.js";

export interface RunFilter {
  workflow?: string;
  statuses?: string[];
  since?: Date;
  /** A run id or the start of one (the logs print the first 8 characters). */
  idPrefix?: string;
  limit: number;
}

const SUMMARY = `id, workflow, version, status, attempt, error, created_at, started_at, finished_at, updated_at`;

export async function listRunSummaries(db: Queryable, f: RunFilter): Promise<RunSummary[]> {
  const range = f.idPrefix === undefined ? undefined : idRange(f.idPrefix);
  const { rows } = await db.query<RunRow & Record<string, unknown>>(
    `SELECT ${SUMMARY} FROM skyflow.runs
     WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text[] IS NULL OR status = ANY($2))
       AND ($3::timestamptz IS NULL OR created_at >= $3)
       AND ($4::uuid IS NULL OR id BETWEEN $4 AND $5)
     ORDER BY created_at DESC, id LIMIT $6`,
    [
      f.workflow ?? null,
      f.statuses ?? null,
      f.since ?? null,
      range?.[0] ?? null,
      range?.[1] ?? null,
      f.limit,
    ],
  );
  return rows.map(summary);
}

/** The uuids that start with a hex prefix (dashes optional), as a range the primary key answers. */
export function idRange(prefix: string): [string, string] | undefined {
  const hex = prefix.toLowerCase().replace(/-/g, "");
  if (!/^[0-9a-f]{1,32}$/.test(hex)) return undefined;
  const pad = (c: string) => {
    const h = hex + c.repeat(32 - hex.length);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  return [pad("0"), pad("f")];
}

interface RunRow {
  id: string;
  workflow: string;
  version: string;
  status: string;
  attempt: number;
  error: RunSummary["error"];
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

function summary(r: RunRow): RunSummary {
  return {
    id: r.id,
    workflow: r.workflow,
    version: r.version.slice(0, 12),
    status: r.status,
    attempt: r.attempt,
    createdAt: r.created_at.toISOString(),
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
    durationMs: r.started_at && r.finished_at ? r.finished_at.getTime() - r.started_at.getTime() : null,
    error: r.error,
  };
}

/** Values past this size are cut (a query's records can be large); the page says how large they were. */
const MAX_VALUE_CHARS = 64 * 1024;
const KNOWN_RUN = new Set([
  "id",
  "workflow",
  "version",
  "status",
  "attempt",
  "error",
  "created_at",
  "started_at",
  "finished_at",
  "updated_at",
  "event",
  "event_id",
  "depth",
  "concurrency_key",
  "available_at",
  "lease_owner",
  "lease_until",
  "seq",
  "cancel_requested_at",
  "output",
  "wait",
  "wake",
  "parent_id",
]);
const KNOWN_TRY = new Set([
  "run_id",
  "step_key",
  "attempt",
  "run_attempt",
  "kind",
  "status",
  "input",
  "output",
  "error",
  "started_at",
  "finished_at",
]);

/**
 * One run as the dashboard shows it. `firstStep` names the first step of a run on it with nothing saved
 * (shown-steps.ts onFirstStep); by default compiled from the run's stored version.
 */
export async function runDetail(
  db: Queryable,
  id: string,
  secrets: string[],
  firstStep: FirstStepOf = firstStepOf(db),
): Promise<RunDetail | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const run = await db.query<{
    row: Record<string, unknown>;
    snapshot: { steps?: RunDetail["steps"] } | null;
  }>("SELECT to_jsonb(r) - 'snapshot' AS row, r.snapshot FROM skyflow.runs r WHERE id = $1", [id]);
  const found = run.rows[0];
  if (!found) return undefined;
  const r = found.row;
  const [tries, children, waits] = await Promise.all([
    db.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM skyflow.step_tries t WHERE run_id = $1
       ORDER BY started_at, run_attempt, attempt, step_key`,
      [id],
    ),
    // A child's event id ends with the calling step's instance key (`call:<run>:<attempt>:remind[3].ask`),
    // which names the item a call inside a foreach was made for; event.parent.step has its id only.
    db.query<RunRow & { parent_step: string | null; event_id: string } & Record<string, unknown>>(
      `SELECT ${SUMMARY}, event_id, event->'parent'->>'step' AS parent_step FROM skyflow.runs
       WHERE parent_id = $1 ORDER BY created_at, id LIMIT 200`,
      [id],
    ),
    r.status === "waiting"
      ? db.query<WaitRow>(
          `SELECT w.source, w.match, w.key, w.step_key, e.expr FROM skyflow.waits w
           LEFT JOIN skyflow.wait_exprs e USING (source, expr_id) WHERE w.run_id = $1`,
          [id],
        )
      : undefined,
  ]);
  const clean = (v: unknown) => cut(redact(v, secrets));
  const parked = parkedSteps(r.status, r.wait as WaitInfo | null, found.snapshot?.steps);
  const tryViews = tries.rows.map(({ row: t }) => ({
    stepKey: String(t.step_key),
    kind: String(t.kind),
    attempt: Number(t.attempt),
    runAttempt: Number(t.run_attempt),
    status: parkedStatus(String(t.status), t.finished_at, parked.get(String(t.step_key))),
    startedAt: iso(t.started_at)!,
    finishedAt: iso(t.finished_at),
    input: clean(t.input),
    output: clean(t.output),
    error: clean(t.error),
    extra: clean(rest(t, KNOWN_TRY)) as Record<string, unknown>,
  }));
  if (onFirstStep(String(r.status), found.snapshot, tryViews.length)) {
    const first = await firstStep(String(r.workflow), String(r.version));
    if (first) tryViews.push(firstTryView(first, r));
  }
  // The top-level `output` is in the saved state; without it the run returns its last step's output.
  const snap = found.snapshot as { output?: unknown; returnsStep?: string } | null;
  const output =
    snap && "output" in snap
      ? { v: snap.output, from: "run" as const }
      : r.output !== null && r.output !== undefined
        ? { v: r.output, from: "run" as const }
        : lastStepOutput(tryViews, String(r.status), snap?.returnsStep);
  const event = redact(r.event, secrets) as Record<string, unknown> | null;
  const parent = event?.parent as RunDetail["parent"] | undefined;
  return {
    ...summary({
      ...(r as unknown as RunRow),
      created_at: new Date(String(r.created_at)),
      started_at: r.started_at ? new Date(String(r.started_at)) : null,
      finished_at: r.finished_at ? new Date(String(r.finished_at)) : null,
      updated_at: new Date(String(r.updated_at)),
    }),
    error: clean(r.error) as RunSummary["error"],
    event: cut(event),
    eventId: String(r.event_id),
    output: output ? clean(output.v) : null,
    outputFrom: output?.from ?? null,
    availableAt: iso(r.available_at),
    leaseOwner: (r.lease_owner as string | null) ?? null,
    cancelRequestedAt: iso(r.cancel_requested_at),
    // A run parked inside a foreach or parallel has a row per waiting inner step: the one runs.wait names.
    wait: waitView(
      r.wait,
      waits?.rows.find((w) => w.step_key === (r.wait as { step?: string } | null)?.step),
      secrets,
    ),
    wake: (clean(r.wake) as Record<string, unknown> | null) ?? null,
    steps: found.snapshot?.steps ?? {},
    tries: tryViews,
    tree: stepTree(tryViews),
    parent: parent && typeof parent.run === "string" ? parent : null,
    children: children.rows.map((c) => ({
      ...summary(c),
      parentStep: callingStep(c.event_id, id) ?? c.parent_step,
    })),
    extra: clean(rest(r, KNOWN_RUN)) as Record<string, unknown>,
  };
}

function lastStepOutput(
  tries: TryView[],
  status: string,
  key: string | undefined,
): { v: unknown; from: "last step" } | undefined {
  if (status !== "succeeded") return undefined;
  const top = tries.filter(
    (t) => t.status === "succeeded" && (key ? t.stepKey === key : keySegments(t.stepKey).length === 1),
  );
  const last = top.sort((a, b) => (a.finishedAt ?? "").localeCompare(b.finishedAt ?? "")).at(-1);
  return last ? { v: last.output, from: "last step" } : undefined;
}

/** A new run's first try before its row is saved: running since the run started. */
function firstTryView(first: { key: string; kind: string }, r: Record<string, unknown>): TryView {
  return {
    stepKey: first.key,
    kind: first.kind,
    attempt: 1,
    runAttempt: Number(r.attempt),
    status: "running",
    startedAt: iso(r.started_at) ?? iso(r.updated_at)!,
    finishedAt: null,
    input: null,
    output: null,
    error: null,
    extra: { unsaved: true },
  };
}

/** The instance key of the step that called a child, from the child's event id. */
function callingStep(eventId: string, parent: string): string | null {
  const m = /^call:([^:]+):\d+:(.+)$/.exec(eventId);
  return m && m[1] === parent ? m[2]! : null;
}

/** A waiting run's row in skyflow.waits: `key` is the run side of its match's equality, evaluated. */
type WaitRow = {
  source: string;
  step_key: string;
  match: string;
  key: string;
  expr: string | null;
};

/**
 * What a parked run waits for (runs.wait, src/engine/park) and, for wait_for, the lookup that finds it (the
 * incoming side of its match equal to its key) and the whole match when more than that must hold.
 */
function waitView(wait: unknown, row: WaitRow | undefined, secrets: string[]): RunDetail["wait"] {
  if (!wait || typeof wait !== "object") return null;
  const w = redact(wait, secrets) as NonNullable<RunDetail["wait"]>;
  if (!row) return w;
  const lookup = row.expr ? `${row.expr} == ${row.key}` : undefined;
  return {
    ...w,
    source: w.source ?? row.source,
    ...(lookup ? { lookup: String(redact(lookup, secrets)) } : {}),
    ...(row.match ? { match: String(redact(row.match, secrets)) } : {}),
  };
}

function rest(row: Record<string, unknown>, known: Set<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([k, v]) => !known.has(k) && v !== null));
}

/** A stored time as ISO; `infinity` (a run waiting for its child has no due time) as null. */
function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const d = new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A value whose JSON is too long becomes `{$truncated, bytes, preview}`. */
export function cut(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  const text = JSON.stringify(v);
  if (text === undefined || text.length <= MAX_VALUE_CHARS) return v;
  return { $truncated: true, bytes: text.length, preview: text.slice(0, 2000) };
}
