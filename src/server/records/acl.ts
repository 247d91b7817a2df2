// Record access control (protocol §6.1, §6.2): ACE parsing, the in-memory check used by fetch/save/delete,
// and the SQL filter used by queries on the public database. No I/O.
import { SkygearServerError } from "../errors.js";
import type { AuthInfo } from "../types.js";
import type { Params } from "./sql.js";

export interface Ace {
  level: "read" | "write";
  public?: true;
  role?: string;
  user_id?: string;
  relation?: string;
}

/** What a check needs from a stored row. */
export interface AccessRow {
  ownerId: string;
  databaseId: string;
  access: Ace[] | null;
}

function badAce(message: string): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: ["_access"] } });
}

/** `_access` of an incoming record: null/missing -> null ("not given"), else a list of valid ACEs. */
export function parseAccess(raw: unknown): Ace[] | null {
  if (raw === null || raw === undefined) return null;
  if (!Array.isArray(raw)) throw badAce("_access must be an array");
  return raw.map(parseAce);
}

function parseAce(raw: unknown): Ace {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw badAce("invalid _access entry");
  const e = raw as Record<string, unknown>;
  if (e.level !== "read" && e.level !== "write") throw badAce("invalid _access entry");
  const ace: Ace = { level: e.level };
  if (e.public === true) ace.public = true;
  else if (typeof e.role === "string" && e.role !== "") ace.role = e.role;
  else if (typeof e.user_id === "string" && e.user_id !== "") ace.user_id = e.user_id;
  else if (typeof e.relation === "string" && e.relation !== "") ace.relation = e.relation;
  else throw badAce("invalid _access entry");
  return ace;
}

/** Stored `_access` jsonb -> ACEs; tolerant, since rows may have been written by other tools. */
export function storedAccess(raw: unknown): Ace[] | null {
  if (!Array.isArray(raw)) return null;
  return raw.filter((e): e is Ace => typeof e === "object" && e !== null) as Ace[];
}

function aceMatches(ace: Ace, auth: AuthInfo): boolean {
  if (ace.public === true) return true;
  if (ace.user_id !== undefined) return auth.userId !== null && ace.user_id === auth.userId;
  if (ace.role !== undefined) return auth.roles.includes(ace.role);
  return false; // relation ACEs are parsed but never match (S: pq/pq.go)
}

/** S: Record.Accessible. The master key bypasses; null `_access` is public read and write. */
export function canAccess(row: AccessRow, auth: AuthInfo, level: "read" | "write"): boolean {
  if (auth.accessType === "master") return true;
  if (row.access === null) return true;
  if (row.databaseId !== "" && row.databaseId !== auth.userId) return false;
  if (auth.userId !== null && row.ownerId === auth.userId) return true;
  return row.access.some((ace) => aceMatches(ace, auth) && (level === "read" || ace.level === "write"));
}

/** S: accessPredicateSqlizer, for `_public` without the master key. `t` is the table alias. */
export function accessFilterSQL(alias: string, auth: AuthInfo, params: Params): string {
  const a = `${alias}._access`;
  const parts = [`${a} IS NULL`, `${a} @> '[{"public":true}]'::jsonb`];
  if (auth.userId !== null) {
    parts.push(`${alias}._owner_id = ${params.add(auth.userId)}`);
    parts.push(`${a} @> ${params.add(JSON.stringify([{ user_id: auth.userId }]))}::jsonb`);
  }
  if (auth.roles.length > 0) {
    const roles = auth.roles.map((r) => JSON.stringify([{ role: r }]));
    parts.push(`${a} @> ANY(${params.add(roles)}::jsonb[])`);
  }
  return `(${parts.join(" OR ")})`;
}

/**
 * SQL: the caller may read the row of `alias`, whichever database holds it: a public row the public filter
 * lets through, or a row of the caller's own private database. For rows joined through a reference
 * (`draft.text`), where v1 checks nothing; null for the master key, which reads everything.
 */
export function readableRowSQL(alias: string, auth: AuthInfo, params: Params): string | null {
  if (auth.accessType === "master") return null;
  const pub = `(${alias}._database_id = '' AND ${accessFilterSQL(alias, auth, params)})`;
  if (auth.userId === null) return pub;
  return `(${pub} OR ${alias}._database_id = ${params.add(auth.userId)})`;
}
