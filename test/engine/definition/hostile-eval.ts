// Evaluates one CEL expression as a step's input would be, against a pubsub event with a long list and a
// string made for catastrophic regex backtracking: the result, or the error it stops with (its message).
import { tryCompileExpression } from "../../../src/engine/definition/expr.js";
import type { ExprContext } from "../../../src/engine/definition/types.js";

export const hostileEvent = {
  id: "e",
  type: "pubsub" as const,
  at: "2026-01-01T00:00:00Z",
  channel: "c",
  data: {
    list: Array.from({ length: 200 }, (_, i) => i + 0.5),
    s: `${"a".repeat(40)}!`,
    pattern: "^(a|a)+$",
  },
};

export function hostileContext(budgetMs?: number): ExprContext {
  return {
    event: hostileEvent,
    steps: {},
    run: { id: "r", workflow: "w", attempt: 1, started_at: hostileEvent.at },
    env: {},
    now: new Date(hostileEvent.at),
    uuidSeed: "r:s",
    ...(budgetMs === undefined ? {} : { budgetMs }),
  };
}

/** The value, or `ErrorName: message` of what the evaluation threw. */
export function evaluateHostile(source: string, budgetMs?: number): string {
  const r = tryCompileExpression(source, { file: "h.yaml", line: 1, column: 1 });
  if (!r.expr) return `load: ${r.problems.map((p) => p.message).join("; ")}`;
  try {
    return JSON.stringify(r.expr.evaluate(hostileContext(budgetMs))).slice(0, 100);
  } catch (err) {
    const e = err as { errorName?: string; message: string };
    return `${e.errorName ?? "Error"}: ${e.message}`;
  }
}
