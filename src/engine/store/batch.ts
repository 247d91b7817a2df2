// Group commit for run saves: the saves and run_writes that runs make while a flush is in flight are
// written together by the next flush, in one statement (one commit for many runs). Each save is still
// conditional on its run's lease, and each caller learns whether its own run was saved.
import type { Queryable } from "./enqueue.js";
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

export class SaveBatcher {
  private queue: Pending[] = [];
  private flushes = 0;
  private scheduled = false;
  private waiters: (() => void)[] = [];

  /** `parallel`: flushes in flight at once, so one batch's commit overlaps the next batch's statement. */
  constructor(
    private readonly db: Queryable,
    private readonly parallel = 2,
  ) {}

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
      const saved = await writeBatch(
        this.db,
        batch.map((p) => p.item),
      );
      for (const p of batch) p.resolve(saved.has(p.item.runId));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.flushes--;
      this.schedule();
      for (const w of this.waiters.splice(0)) w();
    }
  }
}

const col = <T>(items: SaveItem[], f: (i: SaveItem) => T): T[] => items.map(f);

async function writeBatch(db: Queryable, items: SaveItem[]): Promise<Set<string>> {
  const tries = items.flatMap((i) => i.tries.map((t) => ({ runId: i.runId, t })));
  const writes = items.flatMap((i) => (i.writes ? i.writes.list.map((w) => ({ i, w })) : []));
  const { rows } = await db.query<{ id: string }>(
    `WITH v AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::jsonb[], $6::int[])
         AS v(id, owner, snapshot, status, error, park_ms)
     ), r AS (
       UPDATE skyflow.runs AS x SET
         snapshot = v.snapshot, status = v.status, error = v.error,
         available_at = CASE WHEN v.park_ms IS NULL THEN x.available_at
                             ELSE now() + v.park_ms * interval '1 millisecond' END,
         lease_owner = CASE WHEN v.status = 'running' THEN x.lease_owner END,
         lease_until = CASE WHEN v.status = 'running' THEN x.lease_until END,
         finished_at = CASE WHEN v.status IN ('succeeded', 'failed', 'cancelled') THEN now() END,
         updated_at = now()
       FROM v WHERE x.id = v.id AND x.lease_owner = v.owner
       RETURNING x.id, x.depth
     ), t AS (
       INSERT INTO skyflow.step_tries AS s (run_id, run_attempt, step_key, attempt, kind, status, input, output, error, finished_at)
       SELECT t.run_id, t.run_attempt, t.step_key, t.attempt, t.kind, t.status, t.input, t.output, t.error,
              CASE WHEN t.finished THEN now() END
       FROM unnest($7::uuid[], $8::int[], $9::text[], $10::int[], $11::text[], $12::text[], $13::jsonb[],
                   $14::jsonb[], $15::jsonb[], $16::bool[])
         AS t(run_id, run_attempt, step_key, attempt, kind, status, input, output, error, finished)
       JOIN r ON r.id = t.run_id
       ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE SET
         status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
         input = coalesce(EXCLUDED.input, s.input),
         started_at = CASE WHEN EXCLUDED.finished_at IS NULL THEN now() ELSE s.started_at END,
         finished_at = EXCLUDED.finished_at
     ), w AS (
       INSERT INTO skyflow.run_writes (record_type, record_key, op, updated_at, run_id, depth)
       SELECT w.t, w.k, w.o, w.u, w.run_id, r.depth
       FROM unnest($17::uuid[], $18::text[], $19::text[], $20::text[], $21::timestamptz[]) AS w(run_id, t, k, o, u)
       JOIN r ON r.id = w.run_id
     ), d AS (
       -- A finished try's save intents (see intentsOf) give way to its exact rows, inserted just above.
       DELETE FROM skyflow.run_writes x USING unnest($7::uuid[], $16::bool[]) AS f(run_id, finished)
       WHERE f.finished AND x.run_id = f.run_id AND x.op = 'save' AND x.updated_at IS NULL
     )
     SELECT id FROM r`,
    [
      col(items, (i) => i.runId),
      col(items, (i) => i.owner),
      col(items, (i) => i.snapshot),
      col(items, (i) => i.status),
      col(items, (i) => i.error),
      col(items, (i) => i.parkMs),
      tries.map((x) => x.runId),
      tries.map((x) => x.t.runAttempt),
      tries.map((x) => x.t.stepKey),
      tries.map((x) => x.t.attempt),
      tries.map((x) => x.t.kind),
      tries.map((x) => x.t.status),
      tries.map((x) => x.t.input),
      tries.map((x) => x.t.output),
      tries.map((x) => x.t.error),
      tries.map((x) => x.t.finished),
      writes.map((x) => x.i.runId),
      writes.map((x) => x.w.recordType),
      writes.map((x) => x.w.recordKey),
      writes.map((x) => x.w.op),
      writes.map((x) => x.w.updatedAt),
    ],
  );
  return new Set(rows.map((r) => r.id));
}
