// Record ids (`type/key`, protocol §3.1) and the names a record type or field may have. No I/O.
import { SkygearServerError } from "../errors.js";

export interface RecordId {
  type: string;
  key: string;
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 32) return true;
  return false;
}

/**
 * A record type becomes a table name in the app schema, so it must not reach the system tables (`_auth`,
 * `_skyflow_token`, ...): a leading `_` is refused, as is anything Postgres would truncate.
 */
export function validRecordType(type: string): boolean {
  return (
    type.length > 0 &&
    Buffer.byteLength(type) <= 63 &&
    !type.startsWith("_") &&
    !type.includes("/") &&
    !type.includes('"') &&
    !hasControlChar(type)
  );
}

/** A user field name: not reserved (`_`), not truncated by Postgres. */
export function validFieldName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) <= 63 && !name.startsWith("_") && !hasControlChar(name);
}

/** `type/key` -> parts, or null. The key may itself contain `/` (split at the first one). */
export function parseRecordId(raw: unknown): RecordId | null {
  if (typeof raw !== "string") return null;
  const slash = raw.indexOf("/");
  if (slash <= 0 || slash === raw.length - 1) return null;
  const type = raw.slice(0, slash);
  if (!validRecordType(type)) return null;
  return { type, key: raw.slice(slash + 1) };
}

/**
 * The `ids` of record:fetch and record:delete: a non-empty array of at most `max` ids, or 108 for the whole
 * request.
 */
export function parseIdList(raw: unknown, max: number, action: "fetch" | "delete" = "fetch"): RecordId[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new SkygearServerError("InvalidArgument", "expected list of id", { info: { arguments: ["ids"] } });
  }
  checkBatchSize("ids", raw.length, max);
  return raw.map((item) => {
    const id = parseRecordId(item);
    if (!id) {
      // v1's texts: record:fetch and record:delete word it differently.
      const shown = typeof item === "string" ? item : JSON.stringify(item);
      const message =
        action === "fetch"
          ? `invalid id format: ${shown}`
          : `record: "_id" should be of format '{type}/{id}', got "${shown}"`;
      throw new SkygearServerError("InvalidArgument", message, { info: { arguments: ["ids"] } });
    }
    return id;
  });
}

/** More than `max` records or ids in one request: 108, naming the argument and the setting. */
export function checkBatchSize(argument: string, n: number, max: number): void {
  if (n <= max) return;
  throw new SkygearServerError(
    "InvalidArgument",
    `${argument} holds ${n} entries; at most ${max} are accepted per request (SKYFLOW_MAX_RECORDS)`,
    { info: { arguments: [argument] } },
  );
}

export function formatRecordId(id: RecordId): string {
  return `${id.type}/${id.key}`;
}
