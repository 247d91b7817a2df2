// The compact state of one run (what skyflow.runs.snapshot holds, less the steps' outputs) and the pure
// moves over it: which step is next, what a step's outcome does to the run. Inner steps of a foreach or
// parallel have their entries in the same `steps` map under instance keys (see tree.ts). No I/O.
import type { StepDefinition, StepStatus, WorkflowDefinition } from "./definition/types.js";
import type { WaitInfo } from "./park/wait-info.js";

export type StepRunStatus = "running" | "waiting" | StepStatus;
export type RunStatus = "running" | "succeeded" | "failed" | "cancelled";

export interface StepErrorInfo {
  name: string;
  message: string;
  retryable?: boolean;
  /** A foreach that failed: the position of the item whose error this is. */
  index?: number;
  /** A parallel that failed: the branch whose error this is. */
  branch?: string;
}

export interface StepState {
  status: StepRunStatus;
  /** Tries begun so far, including one interrupted by a crash. */
  attempts: number;
  /** Held while the run executes; runs.snapshot leaves it out (the try's row in step_tries has it). */
  output?: unknown;
  error?: StepErrorInfo;
  /**
   * What an inner sleep, wait_for or call waits for, since and until when (ISO, the database's time), saved
   * before it waits (tree.ts, src/engine/park/inner.ts): resumed, it goes on with the same times and child.
   * (A top-level one's is in runs.wait.)
   */
  park?: WaitInfo;
  /** An inner sleep's times as saved before `park` existed (read as a park of kind sleep). */
  sleep?: { began: string; until: string };
}

export interface RunState {
  v: 1;
  status: RunStatus;
  phase: "main" | "on_failure";
  /** Index of the current step within the phase's list. */
  index: number;
  /** 1, plus one per manual retry of the run. */
  attempt: number;
  startedAt: string;
  steps: Record<string, StepState>;
  /** Why the run failed (what on_failure steps see as `error`). */
  error?: { name: string; message: string; step: string };
  /** Index in `steps` of the step that failed the run, for retryRun. */
  failedIndex?: number;
  /**
   * What a succeeded run returns, when the workflow sets `output`. Without it a run returns its last step's
   * output, which its try row holds: `returnsStep` names that step (the snapshot holds no outputs).
   */
  output?: unknown;
  returnsStep?: string;
}

export type StepOutcome =
  | { status: "succeeded"; output: unknown }
  | { status: "skipped" }
  | { status: "failed"; error: StepErrorInfo };

export function newRunState(startedAt: string, attempt = 1): RunState {
  return { v: 1, status: "running", phase: "main", index: 0, attempt, startedAt, steps: {} };
}

export function phaseSteps(def: WorkflowDefinition, phase: RunState["phase"]): StepDefinition[] {
  return phase === "main" ? def.steps : def.onFailure;
}

export function currentStep(def: WorkflowDefinition, s: RunState): StepDefinition | undefined {
  return s.status === "running" ? phaseSteps(def, s.phase)[s.index] : undefined;
}

export function isTerminal(status: string): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

/** The state with one step's entry (an inner step's, under its instance key: see tree.ts) replaced. */
export function setEntry(s: RunState, key: string, entry: StepState): RunState {
  return { ...s, steps: { ...s.steps, [key]: entry } };
}

/** Marks the current step as having begun try number `attempt`. */
export function markRunning(s: RunState, key: string, attempt: number): RunState {
  return { ...s, steps: { ...s.steps, [key]: { status: "running", attempts: attempt } } };
}

/** Marks the current step as waiting for its next try after `error`. */
/** `attempt`: the try that failed, which may never have begun (its input could not be evaluated). */
export function markWaiting(s: RunState, key: string, error: StepErrorInfo, attempt = 1): RunState {
  const prev = s.steps[key];
  const attempts = Math.max(prev?.attempts ?? 1, attempt);
  return { ...s, steps: { ...s.steps, [key]: { status: "waiting", attempts, error } } };
}

/** Records the current step's final outcome and moves the run on. */
export function completeStep(def: WorkflowDefinition, s: RunState, outcome: StepOutcome): RunState {
  const step = currentStep(def, s);
  if (!step) return s;
  const attempts = s.steps[step.key]?.attempts ?? 0;
  const entry: StepState =
    outcome.status === "succeeded"
      ? { status: "succeeded", attempts, output: outcome.output }
      : outcome.status === "failed"
        ? { status: "failed", attempts, error: outcome.error }
        : { status: "skipped", attempts };
  const next: RunState = { ...s, steps: { ...s.steps, [step.key]: entry } };
  if (outcome.status === "failed" && !step.continueOnError) return failRun(def, next, step, outcome.error);
  return advance(def, { ...next, index: s.index + 1 });
}

function failRun(def: WorkflowDefinition, s: RunState, step: StepDefinition, error: StepErrorInfo): RunState {
  // A failing on_failure step ends the run; the first error stays the run's error.
  if (s.phase === "on_failure") return { ...s, status: "failed" };
  const failed: RunState = {
    ...s,
    error: { name: error.name, message: error.message, step: step.id ?? step.key },
    failedIndex: s.index,
  };
  if (def.onFailure.length === 0) return { ...failed, status: "failed" };
  return { ...failed, phase: "on_failure", index: 0 };
}

/** A running state past its phase's last step ends (a workflow built with no steps at all ends at once). */
export function endIfDone(def: WorkflowDefinition, s: RunState): RunState {
  return s.status === "running" ? advance(def, s) : s;
}

function advance(def: WorkflowDefinition, s: RunState): RunState {
  if (s.index < phaseSteps(def, s.phase).length) return s;
  return { ...s, status: s.phase === "main" ? "succeeded" : "failed" };
}

/**
 * A state a step's end outside the run's machine (a resumed parked step, a committed transactional try)
 * finished successfully, left running past its last step: the machine then ends it with what the run
 * returns (its top-level `output`, else `returnsStep`: see machine.ts) and saves that.
 */
export function endedByMachine(s: RunState): RunState {
  return s.status === "succeeded" && s.phase === "main" ? { ...s, status: "running" } : s;
}

/** The succeeded steps of a state read back from runs.snapshot (which holds no outputs) with their outputs. */
export function withOutputs(s: RunState, outputs: ReadonlyMap<string, unknown>): RunState {
  const steps: Record<string, StepState> = {};
  for (const [key, st] of Object.entries(s.steps)) {
    steps[key] = st.status === "succeeded" && outputs.has(key) ? { ...st, output: outputs.get(key) } : st;
  }
  return { ...s, steps };
}

/** The output of the main list's last step (null when it was skipped or failed). */
export function lastOutput(def: WorkflowDefinition, s: RunState): unknown {
  const last = def.steps.at(-1);
  const st = last ? s.steps[last.key] : undefined;
  return st?.status === "succeeded" ? (st.output ?? null) : null;
}

/** `steps.<id>` as expressions see it: only steps with an author id that have finished. */
export function exprSteps(
  def: WorkflowDefinition,
  s: RunState,
): Record<string, { output: unknown; status: StepStatus }> {
  const out: Record<string, { output: unknown; status: StepStatus }> = {};
  // Two loops, not one over a copy of both lists: this runs for every expression context of every try.
  for (const step of def.steps) addExprStep(out, s, step);
  for (const step of def.onFailure) addExprStep(out, s, step);
  return out;
}

function addExprStep(
  out: Record<string, { output: unknown; status: StepStatus }>,
  s: RunState,
  step: StepDefinition,
): void {
  const st = s.steps[step.key];
  if (!step.id || !st) return;
  if (st.status === "succeeded" || st.status === "failed" || st.status === "skipped") {
    out[step.id] = { output: st.output ?? null, status: st.status };
  }
}

/** The state a manual retry starts from: the failed step runs again, on_failure progress is dropped. */
export function retryFromFailure(def: WorkflowDefinition, s: RunState): RunState {
  const index = s.failedIndex ?? 0;
  const steps: Record<string, StepState> = {};
  def.steps.forEach((step, i) => {
    const st = s.steps[step.key];
    if (i < index && st) steps[step.key] = st;
  });
  // A failed foreach or parallel starts again from its failed inner steps: the finished ones are kept.
  const failed = def.steps[index];
  if (failed?.foreach || failed?.parallel) {
    for (const [key, st] of Object.entries(s.steps)) {
      const inner = key.startsWith(`${failed.key}[`) || key.startsWith(`${failed.key}.`);
      if (inner && (st.status === "succeeded" || st.status === "skipped")) steps[key] = st;
    }
  }
  return {
    v: 1,
    status: "running",
    phase: "main",
    index,
    attempt: s.attempt + 1,
    startedAt: s.startedAt,
    steps,
  };
}
