// Identifiers derived from what they name, so that the same thing gets the same id on every try: run ids
// (by workflow and event id) and uuid() values (by run, step and call). They are name-based UUIDs of
// version 5 (RFC 9562) in skyflow's namespace. Runs created before these (whose ids are SHA-256 digests
// stamped as version 4) keep deriving their uuid() values the old way: a run resumed after an upgrade makes
// the same records as the try it repeats.
import { hash } from "node:crypto";
import { validate, version } from "uuid";

/**
 * skyflow's UUID namespace (a random UUID chosen once). Every derived id depends on it: never change it,
 * or runs resumed across the change would derive other uuid() values and save second records.
 */
export const SKYFLOW_NAMESPACE = "6a026edd-b007-4530-bf20-7dd1c323eac6";

/**
 * A run's id, from its workflow and event id (the pair that makes a run unique). A trigger's transaction
 * commits without waiting for the WAL flush; should a database crash lose it, its change or cron fire is
 * claimed again with the same event id and the run comes back with the same id, so the uuid() values and
 * idempotency keys of a step it had already started are the same again (see runner.ts, early first try).
 */
export function runIdFor(workflow: string, eventId: string): string {
  return nameUuid(`run\u0000${workflow}\u0000${eventId}`);
}

const NAMESPACE_BYTES = Buffer.from(SKYFLOW_NAMESPACE.replace(/-/g, ""), "hex");

/**
 * uuid's v5(name, SKYFLOW_NAMESPACE), value for value, in one call of Node's hash: v5 parsed the namespace
 * and hashed through a Hash object at every call, a tenth of a millisecond of each record change's way to
 * its run's first step in a daemon (its caches cold between changes), where this takes about half.
 */
function nameUuid(name: string): string {
  const b = hash("sha1", Buffer.concat([NAMESPACE_BYTES, Buffer.from(name, "utf8")]), "buffer");
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex", 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Value number `n` of uuid() in an expression resolved with `seed` (run id and step key) for run `runId`:
 * the same on every retry and resume. Runs with a legacy id keep the legacy derivation.
 */
export function stepUuid(runId: string, seed: string, n: number): string {
  if (isLegacyRunId(runId)) return legacyUuid(seed, n);
  return nameUuid(`uuid\u0000${seed}\u0000${n}`);
}

/**
 * Run ids derived before version 5 were stamped as version 4: the version digit of a stored run's id says
 * which derivation its uuid() values came from, for runs with no saved state yet as for the others.
 */
export function isLegacyRunId(runId: string): boolean {
  return validate(runId) && version(runId) === 4;
}

/** The derivation before version 5: a SHA-256 digest of seed and call number stamped as a version-4 UUID. */
export function legacyUuid(seed: string, n: number): string {
  const b = hash("sha256", `${seed}\u0000${n}`, "buffer");
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A run id as runIdFor made it before version 5 (for tests of runs stored then). */
export function legacyRunIdFor(workflow: string, eventId: string): string {
  return legacyUuid(`run\u0000${workflow}\u0000${eventId}`, 0);
}
