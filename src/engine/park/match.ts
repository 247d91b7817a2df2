// Releasing waiting runs as events arrive: the record and pubsub triggers hand each event of a waited-on source
// to release() inside the transaction that processes it. Per source: the advisory lock a park also takes,
// the event kept in wait_events (a run parking later sees it), each incoming-side expression in use
// evaluated once on the event, one indexed lookup of the waits with that key, the whole `match` on those
// candidates, and the released runs made due with the event as their wake value.
import type pg from "pg";
import { pipelined } from "../../db/pool.js";
import type { Logger } from "../../log.js";
import type { Catalog, StepDefinition, TriggerEvent, WorkflowDefinition } from "../definition/types.js";
import { type ClaimedRun, OUTPUTS_OF } from "../store/claim.js";
import type { Committer } from "../store/enqueue.js";
import { resolveStepInput } from "../template.js";
import { incomingKey, matches, type StoredContext } from "./evaluate.js";
import { channelSource, passesFilter, recordSource, WAIT_LOCK_CLASS, type WaitSource } from "./keys.js";

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

/**
 * An engine in this process taking released runs in the release's own statement (start-runs.ts Handover):
 * no second UPDATE to lease them, no NOTIFY, no claim between the release's commit and their next step.
 */
export interface ReleaseLease {
  owner: string;
  leaseMs: number;
  /** Reserves room for up to `n` runs; returns how many. */
  reserve(n: number): number;
  /** The runs leased to it, with their wait and the event (as a claim returns them): its after the commit. */
  leased(runs: ClaimedRun[]): void;
}

export interface ReleaseOptions {
  /** Gets the ids of the runs released and not leased (due now, for any engine's claim). */
  out?: string[];
  lease?: ReleaseLease;
  commit?: Committer;
}

interface Expr {
  source: string;
  expr_id: string;
  expr: string;
}

interface Key {
  source: string;
  id: string;
  key: string;
  i: number;
}

type Released = ClaimedRun & { leased: boolean; notified: unknown } & Record<string, unknown>;

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
  /** The wait_exprs rows seen, by source. */
  private readonly exprs = new Map<string, Expr[]>();

  constructor(private readonly o: WaitMatcherOptions) {
    o.catalog.subscribe(() => {
      this.sources = undefined;
    });
  }

  /** Whether events of this source (`record:<type>`, `pubsub:<channel>`) may release a waiting run. */
  wants(source: string): boolean {
    if (!this.sources) {
      const s = waitSourcesOf(this.o.catalog.list());
      this.sources = new Set([...[...s.records].map(recordSource), ...[...s.channels].map(channelSource)]);
    }
    return this.sources.has(source);
  }

  /**
   * Releases the runs these events match, in the caller's transaction; returns how many. With `o.lease`, as
   * many of the released (top-level) runs as its engine has room for are leased to it in the release's own
   * statement (handed over with `o.lease.leased` once the caller commits); `o.out` gets the ids of the others
   * released, due for any engine's claim. With `o.commit`, the release is the transaction's last statement
   * and goes with its COMMIT (when there is a top-level run to release; otherwise the caller commits).
   */
  async release(tx: pg.ClientBase, events: TriggerEvent[], o: ReleaseOptions = {}): Promise<number> {
    const list = events
      .map((event) => ({ event, source: eventSource(event) }))
      .filter((e) => e.source !== undefined && this.wants(e.source)) as {
      event: TriggerEvent;
      source: string;
    }[];
    if (list.length === 0) return 0;
    const sources = [...new Set(list.map((e) => e.source))].sort();
    await this.clean(tx);
    const now = this.o.clock();
    // The candidates of the expressions this process has seen for these sources are looked up in the same
    // round trip as the lock (wait_exprs rows never change once written; a new one is looked up after).
    const seen = new Map(sources.map((source) => [source, this.exprs.get(source) ?? []]));
    const known = this.keysOf(list, now, (source) => seen.get(source) ?? []);
    // The sources' locks (in order), the events kept, the expressions read and the known candidates, in one
    // round trip: statements sent at once, each after the one before it, so the reads see every park that
    // committed before the lock was granted.
    const [, , read, first] = await pipelined(tx as pg.PoolClient, [
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
      ...(known.length > 0 ? [candidatesQuery(known)] : []),
    ]);
    const exprs = read!.rows as Expr[];
    // New to this call (another call may have cached them meanwhile: they are looked up here all the same).
    const fresh = exprs.filter((x) => !(seen.get(x.source) ?? []).some((c) => c.expr_id === x.expr_id));
    for (const x of fresh) {
      const cached = this.exprs.get(x.source) ?? [];
      if (!cached.some((c) => c.expr_id === x.expr_id)) this.exprs.set(x.source, [...cached, x]);
    }
    const more = this.keysOf(list, now, (source) => fresh.filter((x) => x.source === source));
    const rows = [
      ...((first?.rows ?? []) as Candidate[]),
      ...(more.length > 0 ? (await tx.query<Candidate>(candidatesQuery(more))).rows : []),
    ].sort((a, b) => a.i - b.i);
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
    if (inner.length > 0) {
      n += await releaseInner(tx, inner);
      if (top.length === 0) await tx.query("NOTIFY skyflow_runs");
    }
    if (top.length > 0) {
      const k = o.lease ? o.lease.reserve(top.length) : 0;
      const st = releaseTop(top, k, o.lease, inner.length > 0);
      const { rows: done } = o.commit
        ? await o.commit.commitWith<Released>(st)
        : await tx.query<Released>(st);
      n += done.length;
      const leased = done.filter((r) => r.leased);
      if (leased.length > 0) o.lease!.leased(leased.map(({ leased: _, notified: __, ...run }) => run));
      o.out?.push(...done.filter((r) => !r.leased).map((r) => r.id));
    }
    return n;
  }

  /** The lookup keys of these events under each source's expressions (`exprsOf`). */
  private keysOf(
    list: { event: TriggerEvent; source: string }[],
    now: Date,
    exprsOf: (source: string) => Expr[],
  ): Key[] {
    const keys: Key[] = [];
    list.forEach((e, i) => {
      for (const x of exprsOf(e.source)) {
        const key = incomingKey(x.expr, e.event, this.o.env, now);
        if (key !== undefined) keys.push({ source: x.source, id: x.expr_id, key, i });
      }
    });
    return keys;
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

function candidatesQuery(keys: Key[]): { text: string; values: unknown[] } {
  return {
    text: `SELECT w.run_id, w.step_key, w.inner_step, w.match, w.filter, w.ctx, l.i
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS l(source, expr_id, key, i)
       JOIN skyflow.waits w ON w.source = l.source AND w.expr_id = l.expr_id AND w.key = l.key
         AND w.event IS NULL
       ORDER BY l.i`,
    values: [keys.map((k) => k.source), keys.map((k) => k.id), keys.map((k) => k.key), keys.map((k) => k.i)],
  };
}

/**
 * Releases top-level waits: each run made due with the event as its wake value, its waits row deleted; the
 * first `k` leased to `lease`'s engine at once, as the claim leases a due parked run (claim.ts RESUMABLE:
 * status 'running', the lease, one more claim, wait and wake returned and cleared). One UPDATE of each run
 * row either way. The engines are notified only of runs left for their claim (or when inner waits were
 * released too), in the same statement. The lease counts from the statement's own time, as a new run's
 * (enqueue.ts): the engine counts it from a moment before the statement was sent. A leased run comes with the
 * outputs of its steps that succeeded (claim.ts OUTPUTS_OF), a round trip less before its next step. A run
 * whose wait changed
 * since its candidate row was read (another release, a timeout's claim) is not released by this event.
 */
function releaseTop(
  top: { c: Candidate; event: TriggerEvent }[],
  k: number,
  lease: ReleaseLease | undefined,
  notify: boolean,
): { text: string; values: unknown[] } {
  return {
    text: `WITH u AS (
       SELECT u.id, u.step, u.e, u.n <= $4 AS lease
       FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS u(id, step, e, n)
     ), d AS (
       DELETE FROM skyflow.waits w USING u WHERE w.run_id = u.id AND w.step_key = u.step AND NOT w.inner_step
     ), was AS (
       SELECT r.id, r.wait FROM skyflow.runs r WHERE r.id = ANY($1::uuid[])
     ), r AS (
       UPDATE skyflow.runs r SET available_at = now(), updated_at = now(),
         wake = CASE WHEN u.lease THEN NULL ELSE jsonb_build_object('event', u.e) END,
         wait = CASE WHEN u.lease THEN NULL ELSE r.wait END,
         status = CASE WHEN u.lease THEN 'running' ELSE r.status END,
         lease_owner = CASE WHEN u.lease THEN $5::text END,
         lease_until = CASE WHEN u.lease THEN clock_timestamp() + $6::int * interval '1 millisecond' END,
         started_at = CASE WHEN u.lease THEN coalesce(r.started_at, now()) ELSE r.started_at END,
         claims = r.claims + CASE WHEN u.lease THEN 1 ELSE 0 END
       FROM u JOIN was ON was.id = u.id
       WHERE r.id = u.id AND r.status = 'waiting' AND r.wake IS NULL AND r.lease_owner IS NULL
         AND r.wait = was.wait
       RETURNING r.id, u.lease AS leased, r.workflow, r.version, r.event, r.depth, r.status, r.snapshot,
         r.attempt, r.concurrency_key, r.started_at, was.wait AS wait,
         CASE WHEN u.lease THEN jsonb_build_object('event', u.e) END AS wake, r.claims,
         CASE WHEN u.lease THEN ${OUTPUTS_OF("r")} END AS outputs
     )
     SELECT r.*, (SELECT count(pg_notify('skyflow_runs', '')) FROM (SELECT 1 FROM r x WHERE NOT x.leased OR $7
                  LIMIT 1) y) AS notified
     FROM r`,
    values: [
      top.map((r) => r.c.run_id),
      top.map((r) => r.c.step_key),
      top.map((r) => JSON.stringify(r.event)),
      k,
      lease?.owner ?? null,
      Math.floor(lease?.leaseMs ?? 0),
      notify,
    ],
  };
}

function eventSource(e: TriggerEvent): string | undefined {
  if (e.type === "record" && typeof e.record_type === "string") return recordSource(e.record_type);
  if (e.type === "pubsub" && typeof e.channel === "string") return channelSource(e.channel);
  return undefined;
}
