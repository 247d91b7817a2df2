// The per-workflow concurrency key: the `concurrency.key` expression evaluated against the run's event
// when the run is queued. No I/O. Triggers use it too, so runs of one key queue together.
import { TRIGGER_BUDGET_MS } from "./definition/eval-budget.js";
import type { ExprContext, TriggerEvent, WorkflowDefinition } from "./definition/types.js";

export function concurrencyKeyFor(
  def: WorkflowDefinition,
  event: TriggerEvent,
  opts: { env?: Record<string, string>; now?: Date; runId?: string } = {},
): string | null {
  const key = def.concurrency?.key;
  if (!key) return null;
  const now = opts.now ?? new Date();
  const ctx: ExprContext = {
    event,
    steps: {},
    run: { id: opts.runId ?? "", workflow: def.name, attempt: 1, started_at: now.toISOString() },
    env: opts.env ?? {},
    now,
    uuidSeed: `${opts.runId ?? event.id}:concurrency`,
    budgetMs: TRIGGER_BUDGET_MS,
  };
  const v = key.evaluate(ctx);
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * The run limits the claim honours, per workflow: its `concurrency.limit`, or 1 for a workflow with a cron
 * trigger of `overlap: queue` (a fire whose previous run is still going waits for it, in order). No I/O.
 */
export function claimLimits(defs: WorkflowDefinition[]): { workflow: string; limit: number }[] {
  return defs.flatMap((d) => {
    if (d.concurrency) return [{ workflow: d.name, limit: d.concurrency.limit }];
    const queued = d.triggers.some((t) => t.kind === "cron" && t.overlap === "queue");
    return queued ? [{ workflow: d.name, limit: 1 }] : [];
  });
}
