// Fallback resolution of a compiled step block: walks plain JSON and evaluates every compiled expression
// (anything with an `evaluate` function). No I/O. The definition loader's resolveTemplate is preferred
// when it is given to the engine, since it also knows interpolated strings.
import { type Template as Parsed, resolveTemplate } from "./definition/expressions.js";
import type { ExprContext, Template } from "./definition/types.js";

export type ResolveTemplate = (template: Template, ctx: ExprContext) => unknown;

export const resolveCompiled: ResolveTemplate = (template, ctx) => walk(template, ctx);

/** A step's input: the definition loader's template (it has a `node`), else a compiled block. */
export const resolveStepInput: ResolveTemplate = (t, ctx) =>
  t && typeof t === "object" && "node" in t ? resolveTemplate(t as Parsed, ctx) : resolveCompiled(t, ctx);

function walk(value: unknown, ctx: ExprContext): unknown {
  if (Array.isArray(value)) return value.map((v) => walk(v, ctx));
  if (value && typeof value === "object") {
    const rec = value as Record<string, unknown>;
    if (typeof rec.evaluate === "function") return (rec.evaluate as (c: ExprContext) => unknown)(ctx);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) out[k] = walk(v, ctx);
    return out;
  }
  return value;
}
