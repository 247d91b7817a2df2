// Resuming a parked run once a claim took it (its wake time, its timeout, a matching event or its child's end
// made it due): the parked step ends with its wake value ({slept_ms}, {event, timed_out}, the child's output
// or ChildRunFailed), saved like any try's end, and the run goes on from the next step.
import { redact } from "../../errors.js";
import type { WorkflowDefinition } from "../definition/types.js";
import type { TryResult } from "../machine.js";
import type { RunnerEnv } from "../runner.js";
import { completeStep, currentStep, endedByMachine, type RunState, type StepOutcome } from "../state.js";
import type { TryRow } from "../store/batch.js";
import type { ClaimedRun } from "../store/claim.js";
import type { Queryable } from "../store/enqueue.js";
import { stateItem } from "../store/save.js";
import { storable } from "../store/storable.js";
import { childFailed, childResult } from "./child.js";
import type { WaitInfo } from "./wait-info.js";

export type Resumed =
  | { parked: true; ms: number }
  /**
   * `carry`: the parked try's end, for the run's next save to write (the next step's begin folds it in).
   * `inside`: the run was parked inside its current container (inner.ts), whose try goes on.
   */
  | { parked: false; state: RunState; carry?: TryRow; inside?: true }
  | { abandoned: true };

export async function resumeParked(
  env: RunnerEnv,
  run: ClaimedRun,
  def: WorkflowDefinition,
  state: RunState,
): Promise<Resumed> {
  const wait = run.wait as WaitInfo;
  // Parked inside a foreach or parallel: the container's try goes on, and its inner steps take their
  // outcomes (tree.ts).
  if (wait.inner) return { parked: false, state, inside: true };
  const step = currentStep(def, state);
  // The claim cleared runs.wait and runs.wake; a timed-out wait_for's row in skyflow.waits is left (a
  // released one was deleted by its release).
  const clear = async () => {
    if (wait.kind === "wait_for" && !(run.wake as { event?: unknown } | null)?.event)
      await env.pool.query("DELETE FROM skyflow.waits WHERE run_id = $1", [run.id]);
  };
  // A wait left behind by a crash after the step's end was saved: the run is past it.
  if (!step || step.key !== wait.step || state.steps[step.key]?.status !== "running") {
    await clear();
    return { parked: false, state };
  }
  const now = env.clock.now();
  const wake = run.wake as { event?: unknown; child?: string; slept?: unknown; ended_at?: string } | null;
  // A sleep the waker ended (waker.ts): its try's end is recorded already, with its output.
  const ended = wait.kind === "sleep" && wake?.slept !== undefined;
  let outcome: StepOutcome;
  if (ended) {
    outcome = { status: "succeeded", output: wake.slept };
  } else if (wait.kind === "sleep") {
    outcome = { status: "succeeded", output: { slept_ms: Math.max(0, now - Date.parse(wait.began)) } };
  } else if (wait.kind === "wait_for") {
    if (!wake?.event && (await changesBefore(env.pool, wait))) {
      // Record changes made before the timeout are still in the trigger's outbox (an engine restarting
      // resumes due runs before its trigger drains): their turn first, then the timeout again.
      await env.pool.query(
        `UPDATE skyflow.runs SET status = 'waiting', available_at = now() + interval '500 milliseconds',
           lease_owner = NULL, lease_until = NULL, wait = $3::jsonb WHERE id = $1 AND lease_owner = $2`,
        [run.id, env.owner, JSON.stringify(wait)],
      );
      return { parked: true, ms: 500 };
    }
    outcome = wake?.event
      ? { status: "succeeded", output: { event: wake.event, timed_out: false } }
      : { status: "succeeded", output: { event: null, timed_out: true } };
  } else {
    const child = await childResult(env.pool, wait.child!);
    if (!child) {
      // Not ended (a claim without its release): parked again until the child's end releases it.
      await env.pool.query(
        `UPDATE skyflow.runs SET status = 'waiting', available_at = 'infinity', lease_owner = NULL,
           lease_until = NULL, wait = $3::jsonb WHERE id = $1 AND lease_owner = $2`,
        [run.id, env.owner, JSON.stringify(wait)],
      );
      return { parked: true, ms: Number.POSITIVE_INFINITY };
    }
    if (child.status === "succeeded") outcome = { status: "succeeded", output: child.output };
    else {
      const e = childFailed(child);
      outcome = { status: "failed", error: { name: e.errorName, message: e.message, retryable: false } };
    }
  }
  if (outcome.status === "succeeded")
    outcome = { ...outcome, output: storable(redact(outcome.output, env.secrets)) };
  const attempt = state.steps[step.key]?.attempts ?? 1;
  const result: TryResult = {
    stepKey: step.key,
    kind: step.kind,
    attempt,
    status: outcome.status === "succeeded" ? "succeeded" : "failed",
    ...(outcome.status === "succeeded" ? { output: outcome.output } : {}),
    ...(outcome.status === "failed" ? { error: outcome.error } : {}),
    durationMs: Math.max(0, (ended ? Date.parse(wake.ended_at ?? "") || now : now) - Date.parse(wait.began)),
  };
  // A run this step ends is ended by the machine, with what it returns (the top-level `output`).
  const next = endedByMachine(completeStep(def, state, outcome));
  const target = { runId: run.id, owner: env.owner };
  const cleared = clear().catch((err) =>
    env.log.warn({ runId: run.id, err: String(err) }, "could not clear a resumed run's wait"),
  );
  const item = stateItem(target, next, { result, resultSaved: ended });
  let carry: TryRow | undefined;
  if (next.status === "running") carry = item.tries[0];
  else if (!(await env.batcher.save(item))) return { abandoned: true };
  await cleared;
  env.onStep({
    type: result.status === "succeeded" ? "succeeded" : "failed",
    runId: run.id,
    workflow: run.workflow,
    stepKey: step.key,
    kind: step.kind,
    attempt,
    durationMs: result.durationMs,
    ...(result.error ? { error: { name: result.error.name, message: result.error.message } } : {}),
  });
  return { parked: false, state: next, ...(carry ? { carry } : {}) };
}

/** Whether the record trigger's outbox still holds changes of this wait's record type from before its timeout. */
export async function changesBefore(db: Queryable, wait: WaitInfo): Promise<boolean> {
  if (!wait.source?.startsWith("record:") || !wait.until) return false;
  const { rows } = await db.query(
    "SELECT 1 FROM skyflow.record_outbox WHERE record_type = $1 AND at <= $2 LIMIT 1",
    [wait.source.slice("record:".length), wait.until],
  );
  return rows.length > 0;
}
