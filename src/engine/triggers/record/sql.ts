// Record trigger: every SQL statement it runs, one function each, over a minimal "query with values" seam.
import { BY_KEY, ident, type Statement } from "../../../db/pool.js";
import type { Queryable } from "../../store/enqueue.js";
import type { OutboxRow } from "./parse.js";

export const CHANNEL = "skyflow_record";
const TRIGGER = "skyflow_record_change";

export type ClaimedRow = OutboxRow & { parent_depth: number | null };

/**
 * The claim's transactions are planned without sequential scans (db/pool.ts INDEX_SCANS): the outbox is
 * drained as fast as it fills, so its statistics always say it is near empty, and the claim's generic plan
 * read it whole, twice (the locking subquery and the DELETE), dead rows of the changes claimed since the last
 * vacuum included: 25 buffers per claim at 100 changes a second, against 9 through its primary key. The
 * other statements of the transaction (the runs' insert, wait_for's releases) find their rows by key too.
 * They run their generic plans (db/pool.ts GENERIC_PLANS): Postgres planned the claim anew, 0.22 to 0.49 ms
 * on a change's way, at a connection's first claims and on some connections at every claim, for one plan.
 */
export const CLAIM_OPTIONS = BY_KEY;

/**
 * The statement claiming up to `limit` changes, each with the depth of the run that wrote it (the loop guard:
 * same record and `_updated_at`, or a delete of that key, or a run's intent row written when its save/delete
 * try began, which has no `_updated_at` and covers the window before the try's end is saved; NULL for an
 * outside change). The ARRAY(subquery) form runs the locking subquery once (an InitPlan); IN (subquery) can
 * be re-run per row and claim the whole backlog. Its values are bound; it shares a round trip with BEGIN
 * (pipelined, see db/pool.ts).
 */
export function claimOutbox(schema: string, limit: number): Statement {
  return {
    name: "skyflow_claim_outbox",
    text: `WITH claimed AS (
       DELETE FROM skyflow.record_outbox WHERE id = ANY(ARRAY(
         SELECT id FROM skyflow.record_outbox WHERE schema_name = $1
         ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $2))
       RETURNING *)
     SELECT c.*, (SELECT max(w.depth) FROM skyflow.run_writes w
                  WHERE w.record_type = c.record_type AND w.record_key = c.record_key
                    AND CASE WHEN c.op = 'delete' THEN w.op = 'delete'
                        ELSE w.op <> 'delete'
                         AND (w.updated_at IS NULL
                              OR w.updated_at = (c.new_row->>'_updated_at')::timestamp AT TIME ZONE 'UTC') END
                 ) AS parent_depth
     FROM claimed c ORDER BY c.id`,
    values: [schema, Math.floor(limit)],
  };
}

export async function cleanRunWrites(db: Queryable, olderThanMs: number): Promise<number> {
  const r = await db.query(
    "DELETE FROM skyflow.run_writes WHERE created_at < now() - make_interval(secs => $1::double precision)",
    [olderThanMs / 1000],
  );
  return r.rowCount ?? 0;
}

/** Replaces the watch list of `schema` (read by the CREATE TABLE event trigger). */
export async function setWatched(db: Queryable, schema: string, types: string[]): Promise<void> {
  await db.query("DELETE FROM skyflow.record_watch WHERE schema_name = $1 AND NOT (record_type = ANY($2))", [
    schema,
    types,
  ]);
  // A new watch notes whether its table exists yet: one that appears later is brand new (see migration 036).
  await db.query(
    `INSERT INTO skyflow.record_watch (schema_name, record_type, table_seen)
     SELECT $1, t, to_regclass(format('%I.%I', $1::text, t)) IS NOT NULL FROM unnest($2::text[]) t
     ON CONFLICT DO NOTHING`,
    [schema, types],
  );
}

/** Watched types whose table does not exist (now): when one appears, it is brand new. */
export async function markAbsent(db: Queryable, schema: string, types: string[]): Promise<void> {
  await db.query(
    `UPDATE skyflow.record_watch SET table_seen = false
     WHERE schema_name = $1 AND record_type = ANY($2) AND table_seen`,
    [schema, types],
  );
}

/**
 * Attaches a watched table the poll found without the trigger; returns how many rows of a brand-new one were
 * recorded as creates (see migration 036).
 */
export async function attachFound(db: Queryable, schema: string, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>("SELECT skyflow.attach_found_record_table($1, $2) AS n", [
    schema,
    table,
  ]);
  return rows[0]?.n ?? 0;
}

/** Tables of `schema` that carry skyflow's trigger, and watched tables that exist without it. */
export async function triggerState(
  db: Queryable,
  schema: string,
  types: string[],
): Promise<{ attached: string[]; missing: string[] }> {
  // Prepared: read every second (attach.ts), where planning this join of the catalogs took 1.6 ms of the
  // database's CPU each time.
  const { rows } = await db.query<{ tbl: string; has: boolean }>({
    name: "skyflow_trigger_state",
    text: `SELECT c.relname AS tbl, EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = $3) AS has
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
       AND (c.relname = ANY($2) OR EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = $3))`,
    values: [schema, types, TRIGGER],
  });
  return {
    attached: rows.filter((r) => r.has).map((r) => r.tbl),
    missing: rows.filter((r) => !r.has && types.includes(r.tbl)).map((r) => r.tbl),
  };
}

export async function detachTrigger(db: Queryable, schema: string, table: string): Promise<void> {
  await db.query(`DROP TRIGGER IF EXISTS ${TRIGGER} ON ${ident(schema)}.${ident(table)}`);
}

/** Best effort: an event trigger attaches watched tables in the transaction that creates them (superuser only). */
export async function installEventTrigger(db: Queryable): Promise<boolean> {
  try {
    await db.query(
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'skyflow_create_table') THEN
           CREATE EVENT TRIGGER skyflow_create_table ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
             EXECUTE FUNCTION skyflow.on_create_table();
         END IF;
       END $$`,
    );
    return true;
  } catch {
    return false;
  }
}

/** Sets the wake flag; true when this call changed it. */
export async function setArmed(db: Queryable, armed: boolean): Promise<boolean> {
  const r = await db.query<{ changed: boolean }>("SELECT skyflow.set_record_wake($1) AS changed", [armed]);
  return r.rows[0]?.changed === true;
}

/**
 * Raises the wake flag and, once it is up (a sequence's value, seen by every session as setval returns, so
 * any writer that read it down began before), lists the transactions in progress: any of them may have
 * written a change without notifying. One round trip (one simple query of two transactions); `raised` false
 * when the flag was up already.
 */
export async function raiseArmed(db: Queryable): Promise<{ raised: boolean; xids: string[] }> {
  const results = (await db.query(
    `BEGIN; SELECT skyflow.set_record_wake(true) AS raised; COMMIT;
     SELECT txid_snapshot_xip(txid_current_snapshot())::text AS x`,
  )) as unknown as { rows: { raised?: boolean; x: string }[] }[];
  return { raised: results[1]?.rows[0]?.raised === true, xids: (results[3]?.rows ?? []).map((r) => r.x) };
}

/** The subset of `txids` still running. */
export async function stillRunning(db: Queryable, txids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ x: string }>(
    "SELECT x::text FROM unnest($1::bigint[]) x WHERE txid_status(x) = 'in progress'",
    [txids],
  );
  return rows.map((r) => r.x);
}

/**
 * The changes waiting: counted while their ids span fewer than 1,000, else that span (an upper bound: ids
 * claimed out of order or rolled back inside it count too). Read each second while draining; a count of
 * the whole outbox read every page of a backlog, dead rows of the changes claimed included, each time
 * (10 ms at 10,000 waiting; twice that at 20,000). This reads the primary key's two ends and at most
 * 1,000 entries.
 */
export async function outboxDepth(db: Queryable, schema: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT CASE WHEN hi - lo < 1000
                 THEN (SELECT count(*) FROM skyflow.record_outbox WHERE schema_name = $1 AND id BETWEEN lo AND hi)
                 ELSE hi - lo + 1 END AS n
     FROM (SELECT min(id) AS lo, max(id) AS hi FROM skyflow.record_outbox WHERE schema_name = $1) b`,
    [schema],
  );
  return Number(rows[0]?.n ?? 0);
}
