// What a trigger's `when` sees: the event and placeholders for run fields (no run exists yet). No I/O.

import { TRIGGER_BUDGET_MS } from "../definition/eval-budget.js";
import type {
  ExprContext,
  TriggerDefinition,
  TriggerEvent,
  WorkflowDefinition,
} from "../definition/types.js";

export function whenContext(
  event: TriggerEvent,
  wf: WorkflowDefinition,
  env: Record<string, string>,
  now: Date,
): ExprContext {
  return {
    event,
    steps: {},
    run: { id: "", workflow: wf.name, attempt: 0, started_at: now.toISOString() },
    env,
    now,
    uuidSeed: `when:${wf.name}:${event.id}`,
    budgetMs: TRIGGER_BUDGET_MS,
  };
}

/**
 * How deep an event's data may nest. Deeper, it is not taken (logged and dropped): redaction, storage and
 * expressions walk values recursively, and a message of 100,000 nested lists overflowed the stack.
 */
export const MAX_EVENT_DEPTH = 1000;

/** Whether `v` nests deeper than `max` lists and mappings (without recursion). */
export function nestsDeeper(v: unknown, max = MAX_EVENT_DEPTH): boolean {
  let level: unknown[] = [v];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > max) return true;
    const next: unknown[] = [];
    for (const x of level) {
      if (x === null || typeof x !== "object") continue;
      for (const y of Array.isArray(x) ? x : Object.values(x))
        if (y !== null && typeof y === "object") next.push(y);
    }
    level = next;
  }
  return false;
}

/**
 * Evaluates a trigger's `when`; a missing `when` passes. An error counts as "no" and is handed to `onError`,
 * so one bad expression cannot block the outbox for every other workflow.
 */
export function passesWhen(
  when: { evaluate(ctx: ExprContext): unknown } | undefined,
  ctx: ExprContext,
  onError: (err: unknown) => void,
): boolean {
  if (!when) return true;
  try {
    return when.evaluate(ctx) === true;
  } catch (err) {
    onError(err);
    return false;
  }
}

/** Enabled workflows with a trigger that `selects` accepts and whose `when` passes for `event`. */
export function matchTriggers(
  event: TriggerEvent,
  workflows: WorkflowDefinition[],
  opts: {
    env: Record<string, string>;
    now: Date;
    onWhenError: (wf: WorkflowDefinition, err: unknown) => void;
  },
  selects: (t: TriggerDefinition) => boolean,
): WorkflowDefinition[] {
  return workflows.filter(
    (wf) =>
      wf.enabled &&
      wf.triggers.some(
        (t) =>
          selects(t) &&
          // The context is built only for a `when` to read (most triggers have none).
          (!("when" in t) ||
            t.when === undefined ||
            passesWhen(t.when, whenContext(event, wf, opts.env, opts.now), (err) =>
              opts.onWhenError(wf, err),
            )),
      ),
  );
}
