// Field access: only the rules Skygear v1 seeds (S: pq/migration/full.go) — `user.username` and `user.email`
// are readable, comparable and discoverable by logged-in users, and writable by the owner. Rules stored in
// `_record_field_access` are not evaluated. No I/O.
import { SkygearServerError } from "../errors.js";
import type { AuthInfo } from "../types.js";
import type { RecordJSON } from "./codec.js";

const PROTECTED: Record<string, readonly string[]> = { user: ["username", "email"] };

function protectedFields(recordType: string): readonly string[] {
  return Object.hasOwn(PROTECTED, recordType) ? PROTECTED[recordType]! : [];
}

/** Anonymous callers may not read, compare or discover the protected fields; the master key may. */
export function fieldHidden(recordType: string, field: string, auth: AuthInfo): boolean {
  return auth.accessType !== "master" && auth.userId === null && protectedFields(recordType).includes(field);
}

/** Removes unreadable fields from an encoded record, in place. */
export function scrubRecord(recordType: string, rec: RecordJSON, auth: AuthInfo): RecordJSON {
  for (const f of protectedFields(recordType)) if (fieldHidden(recordType, f, auth)) delete rec[f];
  return rec;
}

export function queryDenied(recordType: string, field: string): SkygearServerError {
  return new SkygearServerError(
    "RecordQueryDenied",
    `field "${field}" of record type "${recordType}" cannot be queried`,
  );
}

/**
 * The protected fields a caller other than the owner tries to write. Atomic saves answer 123 DeniedArgument;
 * otherwise the caller drops them silently (as v1 does).
 */
export function deniedWrites(
  recordType: string,
  fields: Iterable<string>,
  ownerId: string,
  auth: AuthInfo,
): string[] {
  if (auth.accessType === "master" || auth.userId === ownerId) return [];
  const prot = protectedFields(recordType);
  return [...fields].filter((f) => prot.includes(f));
}

export function deniedArgument(fields: string[]): SkygearServerError {
  return new SkygearServerError("DeniedArgument", `no permission to write ${fields.join(", ")}`, {
    info: { arguments: fields },
  });
}
