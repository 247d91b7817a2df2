// Releasing waiting runs as events arrive: the record and pubsub triggers hand each event of a waited-on source
// to release() inside the transaction that processes it. Per source: the advisory lock a park also takes,
// the event kept in wait_events (a run parking later sees it), each incoming-side expression in use
// evaluated once on the event, one indexed lookup of the waits with that key, the whole `match` on those
// candidates, and the released runs made due with the event as their wake value.
import type pg from "pg";
import { pipelined } from "../../db/pool.js";
import type { Logger } from "../../log.js";
import type { Catalog, StepDefinition, TriggerEvent, WorkflowDefinition } from "../definition/types.js";
import { resolveStepInput } from "../template.js";
import { incomingKey, matches, type StoredContext } from "./evaluate.js";
import { passesFilter, sourceName, WAIT_LOCK_CLASS, type WaitSource } from "./keys.js";

/** Events are kept this long for runs that park after they arrived (the time between a wait's begin and its park). */
const EVENTS_KEPT_MS = 60 * 60 * 1000;

export interface WaitSources {
  records: Set<string>;
  channels: Set<string>;
}

/** Every step of a workflow, nested ones included (a foreach's steps, a parallel's branches). */
function allSteps(list: StepDefinition[], out: StepDefinition[] = []): StepDefinition[] {
  for (const s of list) {
    out.push(s);
    if (s.foreach) allSteps(s.foreach.steps, out);
    for (const b of s.parallel?.branches ?? []) allSteps(b.steps, out);
  }
  return out;
}

/** The wait_for sources of a workflow's steps whose block names them without an expression. */
export function waitSourcesOf(workflows: WorkflowDefinition[]): WaitSources {
  const out: WaitSources = { records: new Set(), channels: new Set() };
  const now = new Date();
  for (const wf of workflows) {
    if (!wf.enabled) continue;
    for (const s of allSteps([...wf.steps, ...wf.onFailure])) {
      if (s.kind !== "wait_for") continue;
      try {
        const b = resolveStepInput(s.input, {
          event: { id: "", type: "manual", at: now.toISOString() },
          steps: {},
          run: { id: "", workflow: wf.name, attempt: 1, started_at: now.toISOString() },
          env: {},
          now,
          uuidSeed: "",
        }) as { record?: { type?: unknown }; pubsub?: { channel?: unknown } };
        if (typeof b.record?.type === "string") out.records.add(b.record.type);
        if (typeof b.pubsub?.channel === "string") out.channels.add(b.pubsub.channel);
      } catch {
        // A source named by an expression is known once a run waits on it (wait_exprs).
      }
    }
  }
  return out;
}

export interface WaitMatcherOptions {
  catalog: Catalog;
  env: Record<string, string>;
  log: Logger;
  clock: () => Date;
}

interface Candidate {
  run_id: string;
  step_key: string;
  inner_step: boolean;
  match: string;
  filter: WaitSource;
  ctx: StoredContext;
  i: number;
}

export class WaitMatcher {
  private sources: Set<string> | undefined;
  private lastClean = 0;

  constructor(private readonly o: WaitMatcherOptions) {
    o.catalog.subscribe(() => {
      this.sources = undefined;
    });
  }

  /** Whether events of this source (`record:<type>`, `pubsub:<channel>`) may release a waiting run. */
  wants(source: string): boolean {
    if (!this.sources) {
      const s = waitSourcesOf(this.o.catalog.list());
      this.sources = new Set([
        ...[...s.records].map((t) => `record:${t}`),
        ...[...s.channels].map((c) => `pubsub:${c}`),
      ]);
    }
    return this.sources.has(source);
  }

  /**
   * Releases the runs these events match, in the caller's transaction; returns how many. `out` gets the ids
   * of the runs released, for the caller to hand them to its engine (start-runs.ts `resume`).
   */
  async release(tx: pg.ClientBase, events: TriggerEvent[], out?: string[]): Promise<number> {
    const list = events
      .map((event) => ({ event, source: eventSource(event) }))
      .filter((e) => e.source !== undefined && this.wants(e.source)) as {
      event: TriggerEvent;
      source: string;
    }[];
    if (list.length === 0) return 0;
    const sources = [...new Set(list.map((e) => e.source))].sort();
    await this.clean(tx);
    // The sources' locks (in order), the events kept, and the expressions read, in one round trip: three
    // statements sent at once, each after the one before it, so the read sees every park that committed
    // before the lock was granted.
    const [, , read] = await pipelined(tx as pg.PoolClient, [
      {
        text: "SELECT count(pg_advisory_xact_lock($1, hashtext(s))) FROM unnest($2::text[]) AS s",
        values: [WAIT_LOCK_CLASS, sources],
      },
      {
        text: `INSERT INTO skyflow.wait_events (source, event)
       SELECT s, e FROM unnest($1::text[], $2::jsonb[]) AS u(s, e)`,
        values: [list.map((e) => e.source), list.map((e) => JSON.stringify(e.event))],
      },
      {
        text: "SELECT source, expr_id, expr FROM skyflow.wait_exprs WHERE source = ANY($1)",
        values: [sources],
      },
    ]);
    const exprs = read!.rows as { source: string; expr_id: string; expr: string }[];
    const now = this.o.clock();
    const keys: { source: string; id: string; key: string; i: number }[] = [];
    list.forEach((e, i) => {
      for (const x of exprs) {
        if (x.source !== e.source) continue;
        const key = incomingKey(x.expr, e.event, this.o.env, now);
        if (key !== undefined) keys.push({ source: x.source, id: x.expr_id, key, i });
      }
    });
    if (keys.length === 0) return 0;
    const { rows } = await tx.query<Candidate>(
      `SELECT w.run_id, w.step_key, w.inner_step, w.match, w.filter, w.ctx, l.i
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS l(source, expr_id, key, i)
       JOIN skyflow.waits w ON w.source = l.source AND w.expr_id = l.expr_id AND w.key = l.key
         AND w.event IS NULL
       ORDER BY l.i`,
      [keys.map((k) => k.source), keys.map((k) => k.id), keys.map((k) => k.key), keys.map((k) => k.i)],
    );
    // A top-level wait is released once per run; an inner one once per step (a run may wait in several).
    const released = new Map<string, { c: Candidate; event: TriggerEvent }>();
    for (const c of rows) {
      const id = c.inner_step ? `${c.run_id}\u0000${c.step_key}` : c.run_id;
      if (released.has(id)) continue;
      const ev = list[c.i]!.event;
      if (!passesFilter(c.filter, ev)) continue;
      if (!matches(c.match, c.ctx, ev, this.o.env, now)) continue;
      released.set(id, { c, event: ev });
    }
    if (released.size === 0) return 0;
    const all = [...released.values()];
    const top = all.filter((r) => !r.c.inner_step);
    const inner = all.filter((r) => r.c.inner_step);
    let n = 0;
    if (top.length > 0) {
      const ids = top.map((r) => r.c.run_id);
      const r = await tx.query<{ id: string }>(
        `WITH d AS (DELETE FROM skyflow.waits WHERE run_id = ANY($1::uuid[]) AND NOT inner_step)
         UPDATE skyflow.runs r SET wake = jsonb_build_object('event', u.e), available_at = now(), updated_at = now()
         FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, e)
         WHERE r.id = u.id AND r.status = 'waiting' AND r.wake IS NULL
         RETURNING r.id`,
        [ids, top.map((r) => JSON.stringify(r.event))],
      );
      n += r.rowCount ?? 0;
      out?.push(...r.rows.map((x) => x.id));
    }
    if (inner.length > 0) n += await releaseInner(tx, inner);
    await tx.query("NOTIFY skyflow_runs");
    return n;
  }

  /** Drops kept events past EVENTS_KEPT_MS, at most once a minute. */
  private async clean(tx: pg.ClientBase): Promise<void> {
    const now = Date.now();
    if (now - this.lastClean < 60_000) return;
    this.lastClean = now;
    await tx.query("DELETE FROM skyflow.wait_events WHERE at < now() - $1::int * interval '1 millisecond'", [
      EVENTS_KEPT_MS,
    ]);
  }
}

/**
 * Inner waits (inner.ts): the event is kept on each released row, and a parked run is made due; a run still
 * executing reads its rows itself. Returns the rows released.
 */
async function releaseInner(
  tx: pg.ClientBase,
  list: { c: Candidate; event: TriggerEvent }[],
): Promise<number> {
  const { rows } = await tx.query<{ run_id: string }>(
    `UPDATE skyflow.waits w SET event = u.e
     FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS u(run_id, step_key, e)
     WHERE w.run_id = u.run_id AND w.step_key = u.step_key AND w.event IS NULL
     RETURNING w.run_id`,
    [list.map((r) => r.c.run_id), list.map((r) => r.c.step_key), list.map((r) => JSON.stringify(r.event))],
  );
  if (rows.length === 0) return 0;
  await tx.query(
    `UPDATE skyflow.runs SET available_at = now(), updated_at = now()
     WHERE id = ANY($1::uuid[]) AND status = 'waiting' AND available_at > now()`,
    [[...new Set(rows.map((r) => r.run_id))]],
  );
  return rows.length;
}

function eventSource(e: TriggerEvent): string | undefined {
  if (e.type === "record" && typeof e.record_type === "string")
    return sourceName({ kind: "record", type: e.record_type, database: "", events: [] });
  if (e.type === "pubsub" && typeof e.channel === "string")
    return sourceName({ kind: "pubsub", channel: e.channel });
  return undefined;
}
