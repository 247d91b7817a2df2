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
          passesWhen("when" in t ? t.when : undefined, whenContext(event, wf, opts.env, opts.now), (err) =>
            opts.onWhenError(wf, err),
          ),
      ),
  );
}
