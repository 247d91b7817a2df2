// Group commit for run saves: the saves and run_writes that runs make while a flush is in flight are
// written together by the next flush, in one statement (one commit for many runs). Each save is still
// conditional on its run's lease, and each caller learns whether its own run was saved.
import type { Db } from "../../db/pool.js";
import type { RunWrite } from "./writes.js";

export interface TryRow {
  runAttempt: number;
  stepKey: string;
  attempt: number;
  kind: string;
  status: string;
  input: string | null;
  output: string | null;
  error: string | null;
  finished: boolean;
  /**
   * For a try whose row is first written as it ends (its begin save was held back: see runner.ts), how long
   * ago it started; its started_at is then now() minus this, not now().
   */
  startedAgoMs?: number;
}

export interface SaveItem {
  runId: string;
  owner: string;
  snapshot: string;
  status: string;
  error: string | null;
  parkMs: number | null;
  /** A try that ends, a try that begins, or one of each (a step's end folded with the next one's begin). */
  tries: TryRow[];
  writes?: { depth: number; list: RunWrite[] };
}

interface Pending {
  item: SaveItem;
  resolve: (saved: boolean) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 500;

export interface BatcherOptions {
  /** Flushes in flight at once, so one batch's commit overlaps the next batch's statement (default 2). */
  parallel?: number;
  /**
   * Each save of a run still running extends its lease to now() plus this (default: left as it is). A flush
   * with no answer within it fails, and so do its saves (default: no limit): across a network partition a
   * statement waits for TCP to give up, and every later save would wait behind it.
   */
  leaseMs?: number;
  /** After each flush: the runs it saved as still running (their leases extended), and when it was sent. */
  onLeased?: (runIds: string[], sentAt: number) => void;
}

export class SaveBatcher {
  private queue: Pending[] = [];
  private flushes = 0;
  private scheduled = false;
  private waiters: (() => void)[] = [];
  private readonly parallel: number;

  constructor(
    private readonly db: Db,
    private readonly opts: BatcherOptions = {},
  ) {
    this.parallel = opts.parallel ?? 2;
  }

  /** Resolves true when saved, false when the run's lease is no longer this owner's. */
  save(item: SaveItem): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every save queued so far has been written (or has failed). */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.flushes > 0 || this.scheduled) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
      });
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushes >= this.parallel || this.queue.length === 0) return;
    this.scheduled = true;
    // Wait one turn of the event loop so that saves made by the same wave of settled promises share a flush.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    this.flushes++;
    try {
      const saved = await this.write(batch.map((p) => p.item));
      for (const p of batch) p.resolve(saved.has(p.item.runId));
    } catch (err) {
      // A value Postgres refuses (a data or constraint error) fails the whole statement: the saves are
      // written again one by one, so that only the run whose save it is fails, not every run in the batch.
      if (batch.length > 1 && isDataError(err)) await Promise.all(batch.map((p) => this.writeOne(p)));
      else for (const p of batch) p.reject(err);
    } finally {
      this.flushes--;
      this.schedule();
      for (const w of this.waiters.splice(0)) w();
    }
  }

  private async writeOne(p: Pending): Promise<void> {
    try {
      p.resolve((await this.write([p.item])).has(p.item.runId));
    } catch (err) {
      p.reject(err);
    }
  }

  private async write(items: SaveItem[]): Promise<Set<string>> {
    const sentAt = performance.now();
    const saved = await writeBatch(this.db, items, this.opts);
    if (this.opts.onLeased) {
      const running = items.filter((i) => i.status === "running" && saved.has(i.runId)).map((i) => i.runId);
      if (running.length > 0) this.opts.onLeased(running, sentAt);
    }
    return saved;
  }
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation). */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

// The batch travels as three JSON documents. Snapshots, inputs and outputs are already JSON text, so they are
// spliced in as they are: as elements of text or jsonb arrays they were escaped again, quote by quote.
const str = JSON.stringify;
const raw = (json: string | null): string => json ?? "null";

function runsJSON(items: SaveItem[]): string {
  const parts = items.map(
    (i) =>
      `{"id":${str(i.runId)},"owner":${str(i.owner)},"snapshot":${i.snapshot},"status":${str(i.status)},` +
      `"error":${raw(i.error)},"park_ms":${i.parkMs ?? "null"}}`,
  );
  return `[${parts.join(",")}]`;
}

function triesJSON(items: SaveItem[]): string {
  const parts: string[] = [];
  for (const i of items) {
    for (const t of i.tries) {
      parts.push(
        `{"run_id":${str(i.runId)},"run_attempt":${t.runAttempt},"step_key":${str(t.stepKey)},` +
          `"attempt":${t.attempt},"kind":${str(t.kind)},"status":${str(t.status)},"input":${raw(t.input)},` +
          `"output":${raw(t.output)},"error":${raw(t.error)},"finished":${t.finished},"ago":${t.startedAgoMs ?? "null"}}`,
      );
    }
  }
  return `[${parts.join(",")}]`;
}

function writesJSON(items: SaveItem[]): string {
  const rows = items.flatMap((i) =>
    (i.writes?.list ?? []).map((w) => ({
      run_id: i.runId,
      t: w.recordType,
      k: w.recordKey,
      o: w.op,
      u: w.updatedAt,
    })),
  );
  return str(rows);
}

async function writeBatch(db: Db, items: SaveItem[], o: BatcherOptions): Promise<Set<string>> {
  const statement = {
    name: "skyflow_save_runs",
    text: SAVE_RUNS,
    values: [runsJSON(items), triesJSON(items), writesJSON(items), o.leaseMs ?? null],
  };
  // Its plan does not depend on its values (jsonb_to_recordset is estimated at 100 rows whatever it holds),
  // and planning it costs more than running it for a batch of ten runs (about 1.3 ms against 1.2 ms): with
  // 20 connections, each planned it five times (Postgres's custom plans) before it kept its generic plan.
  const { rows } = await db.single<{ id: string }>(statement, {
    genericPlan: true,
    ...(o.leaseMs ? { timeoutMs: o.leaseMs } : {}),
  });
  return new Set(rows.map((r) => r.id));
}

const SAVE_RUNS = `WITH v AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb)
         AS v(id uuid, owner text, snapshot jsonb, status text, error jsonb, park_ms int)
     ), r AS (
       UPDATE skyflow.runs AS x SET
         snapshot = v.snapshot, status = v.status, error = v.error,
         available_at = CASE WHEN v.park_ms IS NULL THEN x.available_at
                             ELSE now() + v.park_ms * interval '1 millisecond' END,
         lease_owner = CASE WHEN v.status = 'running' THEN x.lease_owner END,
         lease_until = CASE WHEN v.status = 'running'
                            THEN coalesce(now() + $4::int * interval '1 millisecond', x.lease_until) END,
         finished_at = CASE WHEN v.status IN ('succeeded', 'failed', 'cancelled') THEN now() END,
         updated_at = now()
       -- The ANY(ARRAY(...)) makes it a lookup by primary key whatever the table's size: joined with v alone
       -- (estimated at 100 rows), a table of a few thousand runs was read in full on every flush.
       FROM v WHERE x.id = v.id AND x.lease_owner = v.owner AND x.id = ANY(ARRAY(SELECT id FROM v))
       RETURNING x.id, x.depth
     ), tr AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb)
         AS t(run_id uuid, run_attempt int, step_key text, attempt int, kind text, status text, input jsonb,
              output jsonb, error jsonb, finished bool, ago double precision)
     ), t AS (
       INSERT INTO skyflow.step_tries AS s (run_id, run_attempt, step_key, attempt, kind, status, input, output, error, started_at, finished_at)
       SELECT t.run_id, t.run_attempt, t.step_key, t.attempt, t.kind, t.status, t.input, t.output, t.error,
              now() - coalesce(t.ago, 0) * interval '1 millisecond', CASE WHEN t.finished THEN now() END
       FROM tr t JOIN r ON r.id = t.run_id
       ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE SET
         status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
         input = coalesce(EXCLUDED.input, s.input),
         started_at = CASE WHEN EXCLUDED.finished_at IS NULL THEN now() ELSE s.started_at END,
         finished_at = EXCLUDED.finished_at
     ), w AS (
       INSERT INTO skyflow.run_writes (record_type, record_key, op, updated_at, run_id, depth)
       SELECT w.t, w.k, w.o, w.u, w.run_id, r.depth
       FROM jsonb_to_recordset($3::jsonb) AS w(run_id uuid, t text, k text, o text, u timestamptz)
       JOIN r ON r.id = w.run_id
     ), d AS (
       -- A finished save try's intents (see intentsOf) give way to its exact rows, inserted just above. They
       -- are looked up run by run through run_writes_intents (OFFSET 0 keeps each lookup apart): a join
       -- read every intent in the table, and the dead ones too until vacuum came (migration 033).
       DELETE FROM skyflow.run_writes x
       WHERE x.ctid = ANY(ARRAY(
         SELECT i.ctid FROM tr f CROSS JOIN LATERAL (
           SELECT w.ctid FROM skyflow.run_writes w
           WHERE w.run_id = f.run_id AND w.op = 'save' AND w.updated_at IS NULL OFFSET 0) i
         WHERE f.finished AND f.kind = 'save'))
     )
     SELECT id FROM r`;
