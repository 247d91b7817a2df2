// Identifiers derived from what they name, so that the same thing gets the same id on every try: uuid()
// values (seeded by run and step) and run ids (by workflow and event id).
import { hash } from "node:crypto";

/** A UUID v4-shaped value derived from the seed and the call number: the same on every retry and resume. */
export function deterministicUuid(seed: string, n: number): string {
  const b = hash("sha256", `${seed}\u0000${n}`, "buffer");
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * A run's id, from its workflow and event id (the pair that makes a run unique). A trigger's transaction
 * commits without waiting for the WAL flush; should a database crash lose it, its change or cron fire is
 * claimed again with the same event id and the run comes back with the same id, so the uuid() values and
 * idempotency keys of a step it had already started are the same again (see runner.ts, early first try).
 */
export function runIdFor(workflow: string, eventId: string): string {
  return deterministicUuid(`run\u0000${workflow}\u0000${eventId}`, 0);
}
