// The lookup keys of waiting runs: canonical JSON of a value (keys sorted), an expression's id, the source a
// wait_for listens on, and the advisory lock that orders parking against arriving events. No I/O.
import { createHash } from "node:crypto";
import type { ParkRequest } from "../../steps/park.js";

export function canonicalJSON(v: unknown): string {
  // A CEL int (an item's `index`) keys as the number it is.
  if (typeof v === "bigint") return String(v);
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`).join(",")}}`;
}

export function exprId(source: string): string {
  return createHash("sha1").update(source).digest("hex").slice(0, 16);
}

export type WaitSource = Extract<ParkRequest, { kind: "wait_for" }>["source"];

/** `record:<type>` or `pubsub:<channel>`: what the waits and wait_events tables are keyed on. */
export function sourceName(s: WaitSource): string {
  return s.kind === "record" ? recordSource(s.type) : channelSource(s.channel);
}

/** The source of a record type's changes (sourceName without building a WaitSource). */
export function recordSource(type: string): string {
  return `record:${type}`;
}

/** The source of a pubsub channel's messages. */
export function channelSource(channel: string): string {
  return `pubsub:${channel}`;
}

/** The advisory lock (two ints) that a park and the processing of an event of the same source both take. */
export const WAIT_LOCK_CLASS = 0x5f2a;

/** Whether an arriving event passes the wait's filter (record database and operations). */
export function passesFilter(filter: WaitSource, event: Record<string, unknown>): boolean {
  if (filter.kind === "pubsub") return event.type === "pubsub" && event.channel === filter.channel;
  if (event.type !== "record" || event.record_type !== filter.type) return false;
  if (!filter.events.includes(String(event.op))) return false;
  return filter.database === "_any" || filter.database === event.database;
}
