// record:query by _id alone, coalesced: while two such statements for the same caller, record type and
// database are in flight, further ones wait and then go together as one `_id = ANY($n)` statement, whose
// rows are handed back to each caller by _id. Uncontended, a lookup runs at once on its own. The answer
// is the one the lookup would get alone: same access and database filters, same encoding.
import type pg from "pg";
import type { ActionResult, AuthInfo } from "../types.js";
import type { Database } from "./database.js";

/** Statements in flight per group before lookups start to wait and coalesce (bench/server.ts: 2 gave
 * larger batches and more lookups per second than 4). */
const IN_FLIGHT = 2;
/** Ids per coalesced statement. */
const MAX_IDS = 200;

export interface ByIdLookup {
  /** Callers with the same group key may share a statement. */
  group: string;
  id: string;
}

/**
 * The lookup a payload asks for, when it asks for nothing else: `["eq", keypath _id, "key"]` (either way
 * round), no sort, offset, count or include, and a public or private database (the union one can hold
 * one _id several times).
 */
export function byIdLookup(
  payload: Record<string, unknown>,
  recordType: string,
  db: Database,
  auth: AuthInfo,
): ByIdLookup | undefined {
  const p = payload.predicate;
  if (!Array.isArray(p) || p.length !== 3 || p[0] !== "eq" || db.kind === "union") return undefined;
  const id = isIdPath(p[1]) ? p[2] : isIdPath(p[2]) ? p[1] : undefined;
  if (typeof id !== "string") return undefined;
  if (payload.count === true || payload.include !== undefined) return undefined;
  if (payload.offset !== undefined && payload.offset !== 0) return undefined;
  if (Array.isArray(payload.sort) ? payload.sort.length > 0 : payload.sort !== undefined) return undefined;
  const limit = payload.limit;
  if (limit !== undefined && !(typeof limit === "number" && Number.isInteger(limit) && limit >= 1))
    return undefined;
  const group = JSON.stringify([
    recordType,
    db.kind,
    db.id,
    auth.accessType,
    auth.userId,
    auth.roles,
    payload.desired_keys ?? null,
  ]);
  return { group, id };
}

function isIdPath(v: unknown): boolean {
  const o = v as { $type?: unknown; $val?: unknown } | null;
  return typeof o === "object" && o !== null && o.$type === "keypath" && o.$val === "_id";
}

interface Waiting {
  id: string;
  resolve: (r: ActionResult) => void;
  reject: (err: unknown) => void;
}

interface Group {
  inFlight: number;
  waiting: Waiting[];
}

/** Runs `single` for one id, or `many` for several; `many` answers every record found, in any order. */
export interface LookupRunners {
  single: () => Promise<ActionResult>;
  many: (ids: string[]) => Promise<ActionResult>;
}

const groups = new WeakMap<pg.Pool, Map<string, Group>>();

function groupOf(pool: pg.Pool, key: string): { group: Group; forget: () => void } {
  let byGroup = groups.get(pool);
  if (!byGroup) {
    byGroup = new Map();
    groups.set(pool, byGroup);
  }
  let group = byGroup.get(key);
  if (!group) {
    group = { inFlight: 0, waiting: [] };
    byGroup.set(key, group);
  }
  const map = byGroup;
  return { group, forget: () => map.delete(key) };
}

export function coalescedLookup(
  pool: pg.Pool,
  lookup: ByIdLookup,
  recordType: string,
  run: LookupRunners,
): Promise<ActionResult> {
  const { group, forget } = groupOf(pool, lookup.group);
  const finish = () => {
    group.inFlight--;
    if (group.waiting.length > 0) dispatch();
    else if (group.inFlight === 0) forget();
  };
  const dispatch = () => {
    const batch = group.waiting.splice(0, MAX_IDS);
    group.inFlight++;
    const ids = [...new Set(batch.map((w) => w.id))];
    run.many(ids).then(
      (answer) => {
        const byId = new Map<string, unknown>();
        for (const r of answer.result as { _id: string }[]) byId.set(r._id.slice(recordType.length + 1), r);
        for (const w of batch) {
          const rec = byId.get(w.id);
          w.resolve({ result: rec === undefined ? [] : [rec] });
        }
        finish();
      },
      (err) => {
        for (const w of batch) w.reject(err);
        finish();
      },
    );
  };
  if (group.inFlight < IN_FLIGHT && group.waiting.length === 0) {
    group.inFlight++;
    return run.single().finally(finish);
  }
  return new Promise((resolve, reject) => {
    group.waiting.push({ id: lookup.id, resolve, reject });
  });
}
