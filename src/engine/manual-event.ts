// The event of a run started by hand (engine.trigger, `skyflow trigger --event`): the fields skyflow fills
// in when absent must have their contract's types when given. Pure.
import type { TriggerEvent } from "./definition/types.js";

/** Throws a TypeError naming the field: `event.id` keys the run, `event.at` is an ISO time. */
export function checkManualEvent(event: Partial<TriggerEvent>): void {
  const e = event as Record<string, unknown>;
  if (e.id !== undefined && (typeof e.id !== "string" || e.id === ""))
    throw new TypeError(`event.id: expected a non-empty string, got ${JSON.stringify(e.id)}`);
  if (e.type !== undefined && typeof e.type !== "string")
    throw new TypeError(`event.type: expected a string, got ${JSON.stringify(e.type)}`);
  if (e.at !== undefined && (typeof e.at !== "string" || Number.isNaN(Date.parse(e.at))))
    throw new TypeError(
      `event.at: expected an ISO time such as "2026-01-01T09:00:00Z", got ${JSON.stringify(e.at)}`,
    );
}
