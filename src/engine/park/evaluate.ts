// Evaluating wait_for's `match` pieces: the incoming side on an arriving event (its lookup key), the run side
// on a parking run, and the whole match on a candidate, from the run's context as stored in `waits`. No I/O.
import { compileExpression } from "../definition/expr.js";
import type { ExprContext, TriggerEvent } from "../definition/types.js";
import { canonicalJSON } from "./keys.js";

/** What a waiting run's `match` reads of the run, as stored with its wait. */
export interface StoredContext {
  event: TriggerEvent;
  steps: ExprContext["steps"];
  run: ExprContext["run"];
  /** An inner step's item names (a foreach's item and `index`), which its match may read. */
  locals?: Record<string, unknown>;
}

/** The stored context as JSON: `index` (a CEL int) as a number, made an int again by `matches`. */
export function storedJSON(stored: StoredContext): string {
  return JSON.stringify(stored, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
}

const LOC = { file: "wait_for.match", line: 1, column: 1 };

function withIncoming(ctx: ExprContext, incoming: unknown): ExprContext {
  return { ...ctx, incoming } as ExprContext;
}

/** The key an arriving event has under one incoming-side expression; undefined when it cannot be read. */
export function incomingKey(
  source: string,
  incoming: unknown,
  env: Record<string, string>,
  now: Date,
): string | undefined {
  const ctx: ExprContext = {
    event: { id: "", type: "manual", at: now.toISOString() },
    steps: {},
    run: { id: "", workflow: "", attempt: 1, started_at: now.toISOString() },
    env,
    now,
    uuidSeed: "wait_for",
  };
  try {
    return canonicalJSON(compileExpression(source, LOC).evaluate(withIncoming(ctx, incoming)));
  } catch {
    // An event without the field (reading a field of null is an error in CEL) matches nobody.
    return undefined;
  }
}

/** The whole match on a candidate: false when it is false or cannot be evaluated on this event. */
export function matches(
  match: string,
  stored: StoredContext,
  incoming: unknown,
  env: Record<string, string>,
  now: Date,
): boolean {
  if (match === "") return true;
  const { locals, ...run } = stored;
  const names = locals ? Object.keys(locals) : [];
  const own = { ...locals };
  if (typeof own.index === "number") own.index = BigInt(own.index);
  const ctx: ExprContext = { ...own, ...run, env, now, uuidSeed: `${stored.run.id}:wait_for` };
  try {
    return (
      compileExpression(match, { ...LOC, names: ["incoming", ...names] }).evaluate(
        withIncoming(ctx, incoming),
      ) === true
    );
  } catch {
    return false;
  }
}
