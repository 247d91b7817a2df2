// Executes one claimed run: rebuilds its state (new, resumed, or retried), drives its machine on the
// engine's clock with durable saves conditional on the lease, and reports how it ended. The engine owns
// claiming, leases and capacity; this module owns one run. Its machine (machine.ts) runs without an xstate
// actor: drive.ts applies the machine's transitions and executes the effects they call for (the try, the
// saves: the RunIO of run-io.ts). The machine's xstate snapshot lives in memory only, while the run executes
// here; the RunState in its context is what every save stores, and all a resume starts from.
import type pg from "pg";
import type { Logger } from "../log.js";
import type { Clock } from "./clock.js";
import type { TriggerEvent, WorkflowDefinition } from "./definition/types.js";
import { type Driven, drive, prepareDrive } from "./drive.js";
import {
  buildRunMachine,
  LeaseLostError,
  type MachineDeps,
  type RunInput,
  type RunLogic,
} from "./machine.js";
import { dropInnerWaits } from "./park/inner.js";
import { resumeParked } from "./park/resume.js";
import { runIO } from "./run-io.js";
import {
  completeStep,
  currentStep,
  endedByMachine,
  newRunState,
  type RunState,
  retryFromFailure,
  withOutputs,
} from "./state.js";
import type { SaveBatcher, TryRow } from "./store/batch.js";
import type { ClaimedRun } from "./store/claim.js";
import { committedOutput } from "./store/commit-try.js";
import { markInterrupted } from "./store/lease.js";
import { outputsMap, stateItem, stepOutputs } from "./store/save.js";

export type RunOutcome = "succeeded" | "failed" | "cancelled" | "parked" | "abandoned" | "stopped";

export interface RunEvent {
  type: "started" | "resumed" | "succeeded" | "failed" | "cancelled";
  runId: string;
  workflow: string;
  durationMs?: number;
  error?: { name: string; message: string; step: string };
}

export interface StepEvent {
  type: "succeeded" | "failed" | "retried";
  runId: string;
  workflow: string;
  stepKey: string;
  kind: string;
  attempt: number;
  durationMs: number;
  error?: { name: string; message: string };
}

export interface RunnerEnv {
  pool: pg.Pool;
  owner: string;
  clock: Clock;
  log: Logger;
  deps: MachineDeps;
  batcher: SaveBatcher;
  secrets: string[];
  definitionFor(workflow: string, version: string): Promise<WorkflowDefinition>;
  /** The live version of a workflow, for `call` steps (src/engine/park). */
  workflow?(name: string): WorkflowDefinition | undefined;
  onRun(e: RunEvent): void;
  onStep(e: StepEvent): void;
}

export interface LiveRun {
  id: string;
  workflow: string;
  /** Settles when the run stops executing here, with how it ended; never rejects. */
  done: Promise<RunOutcome>;
  /** After `done`: the wait before a parked run is due again. */
  parkedMs?: number;
  cancel(): void;
  /** Stops the run's machine (aborting its try) without saving: for shutdown and lost leases. */
  halt(): void;
}

export { BEGIN_HOLD_MS } from "./run-io.js";

const machines = new WeakMap<WorkflowDefinition, WeakMap<MachineDeps, RunLogic>>();

/** The RunState in a run machine's snapshot. */
const stateOf = (d: Driven): RunState => (d.snapshot().context as { state: RunState }).state;

function logicFor(def: WorkflowDefinition, deps: MachineDeps): RunLogic {
  let byDeps = machines.get(def);
  if (!byDeps) {
    byDeps = new WeakMap();
    machines.set(def, byDeps);
  }
  let m = byDeps.get(deps);
  if (!m) {
    m = buildRunMachine(def, deps);
    byDeps.set(deps, m);
  }
  return m;
}

/**
 * Builds the run machines of `defs` (and their flat logic) ahead of their first runs: a workflow's first run
 * built them on its way to its first step, 5-7 ms in a fresh process. Each is built once per definition
 * either way; one that cannot be built fails its runs as before.
 */
export function prepareRuns(defs: WorkflowDefinition[], deps: MachineDeps): void {
  for (const def of defs) {
    try {
      prepareDrive(logicFor(def, deps).machine);
    } catch {
      // Its first run meets the same error, and reports it.
    }
  }
}

/** The machine built for `def` (by its first run or prepareRuns), without building one. */
export function preparedLogic(def: WorkflowDefinition, deps: MachineDeps): RunLogic | undefined {
  return machines.get(def)?.get(deps);
}

/** The state a claimed run starts from, and whether it is a resume. */
export function initialState(def: WorkflowDefinition, run: ClaimedRun, nowIso: string): RunState {
  const snap = run.snapshot as (RunState & { retry?: boolean }) | null;
  if (!snap) return newRunState(nowIso, run.attempt);
  if (snap.retry) return retryFromFailure(def, snap);
  return snap;
}

const noop = () => {};
const yes = () => true;
const no = () => false;

/**
 * `now`: the run's machine starts in this same turn when its workflow version is the live one (its first
 * statement on its way without a wait), as for a run or two handed over by a trigger; otherwise it starts
 * once the caller's turn is done (a batch's runs: the caller's statements go first, see start-runs.ts).
 */
export function startRun(env: RunnerEnv, run: ClaimedRun, now = false): LiveRun {
  const live: LiveRun = { id: run.id, workflow: run.workflow, done: undefined!, cancel: noop, halt: noop };
  live.done = execute(env, run, live, now).catch((err) => {
    env.log.error({ runId: run.id, err: errText(err) }, "run stopped by an engine error");
    return "abandoned" as const;
  });
  return live;
}

async function execute(env: RunnerEnv, run: ClaimedRun, live: LiveRun, now: boolean): Promise<RunOutcome> {
  const target = { runId: run.id, owner: env.owner };
  // Halted (its lease lapsed here, or the engine stopping) before its machine starts: it must not start it.
  // The engine has forgotten it already and may claim it again, and a second execution here would pass the
  // lease checks of the first (the same owner): a sql step committed twice.
  let halted = false;
  live.halt = () => {
    halted = true;
  };
  // The live version (as definitionFor finds it first) without a wait, when asked to start now.
  const latest = now ? env.workflow?.(run.workflow) : undefined;
  const def = latest !== undefined && latest.version === run.version ? latest : await definitionOf(env, run);
  if (typeof def === "string") return def;
  const started = env.clock.now();
  let state = initialState(def, run, new Date(started).toISOString());
  if (anySucceeded(state))
    state = withOutputs(state, run.outputs ? outputsMap(run.outputs) : await stepOutputs(env.pool, run.id));
  // Parked runs (src/engine/park): the parked step ends with its wake value, or the run parks again.
  let carry: TryRow | undefined;
  let inside = false;
  if (run.wait) {
    const r = await resumeParked(env, run, def, state);
    if ("abandoned" in r) return "abandoned";
    if (r.parked) {
      live.parkedMs = r.ms;
      return "parked";
    }
    state = r.state;
    carry = r.carry;
    inside = r.inside === true;
  }
  const step = currentStep(def, state);
  if (halted) return "stopped";
  // Parked inside its container, its tries are not interrupted: they go on (tree.ts).
  if (run.snapshot && step && state.steps[step.key]?.status === "running" && !inside) {
    // Only a transactional step's try can have been recorded as succeeded before the run's state was saved,
    // and a sleep's, which the waker ends in SQL (park/waker.ts).
    const done =
      env.deps.stepKinds[step.kind]?.transactional || step.kind === "sleep"
        ? await committedOutput(env.pool, run.id, state.attempt, step.key, state.steps[step.key]!.attempts)
        : undefined;
    if (done) {
      // The step's transaction committed with the record of its success (see commitTry), and the run stopped
      // before saving the state after it: the step is finished, and does not run again.
      // Were it the last step, the machine ends the run with what it returns (see endedByMachine).
      state = endedByMachine(completeStep(def, state, { status: "succeeded", output: done.output }));
      if (!(await env.batcher.save(stateItem(target, state)))) return "abandoned";
    } else await markInterrupted(env.pool, run.id);
  }
  if (halted) return "stopped";
  // Set below, once the machine runs: an early first try whose begin save failed is stopped at once.
  let stopEarly: (err: unknown) => void = () => {};
  // Set when the run is cancelled: a save the machine had yet to send (waiting for an early begin save) is
  // then dropped, or it could overwrite the cancellation. (After a halt such a save may still land: it is
  // conditional on the lease, which the stopping engine gives back only afterwards.)
  let cancelled = false;
  const io = runIO(
    env,
    run,
    def,
    target,
    (err) => stopEarly(err),
    () => cancelled,
    carry,
  );
  const began: RunEvent = {
    type: run.snapshot ? "resumed" : "started",
    runId: run.id,
    workflow: run.workflow,
  };
  // A run handed over before its row committed (ClaimedRun.ready) has started once it has.
  if (run.ready) run.ready.then(() => env.onRun(began), noop);
  else env.onRun(began);
  // The run's machine, driven by drive.ts: its effects run there, its snapshot lives only here.
  let driven: Driven | undefined;
  const outcome = new Promise<RunOutcome>((settle) => {
    const resolve = (o: RunOutcome) => {
      if (o === "cancelled") cancelled = true;
      settle(o);
    };
    live.halt = () => {
      driven?.stop();
      resolve("stopped");
    };
    stopEarly = (err) => {
      driven?.stop();
      if (!(err instanceof LeaseLostError))
        env.log.error({ runId: run.id, err: errText(err) }, "run save failed; its first try is stopped");
      resolve("abandoned");
    };
    const logic = logicFor(def, env.deps);
    // One shape for every run (the machine's context copies it at each assign): `continues` always there.
    const input: RunInput = {
      runId: run.id,
      event: run.event as TriggerEvent,
      state,
      io,
      continues: inside ? { value: true } : undefined,
    };
    driven = drive(logic.machine, logic.effects, input, env.clock, (e) => {
      if ("error" in e) {
        env.log.error({ runId: run.id, err: errText(e.error) }, "run machine error");
        resolve("abandoned");
        return;
      }
      const snap = e.snapshot;
      const value = snap.value as string;
      if (value === "parked") live.parkedMs = snap.context.delayMs;
      if (value === "abandoned") {
        const why = snap.context.abandonError;
        if (!(why instanceof LeaseLostError))
          env.log.error({ runId: run.id, err: errText(why) }, "run save failed");
      }
      resolve(value as RunOutcome);
    });
  });
  live.cancel = () => driven?.send({ type: "CANCEL" });
  const end = await outcome;
  if (end === "cancelled") {
    // A save the machine had in flight must land first, or it could overwrite the cancellation.
    await io.settled();
    await env.batcher.save(io.withHeld(stateItem(target, stateOf(driven!))));
    // Its inner steps' waits (src/engine/park/inner.ts) go with it: those begun here, or kept from before it
    // parked inside its container (their entries hold them). A top-level wait's row is gone by now (its park
    // inserts it and its resume deletes it). The cancellation is saved already: a wait left by a failed
    // delete releases nothing (a release needs the run waiting), so it does not undo it.
    const kept = Object.values(stateOf(driven!).steps).some((st) => st.park?.kind === "wait_for");
    if (io.innerWaitsBegun() || kept)
      await dropInnerWaits(env.pool, run.id).catch((err: unknown) =>
        env.log.warn({ runId: run.id, err: String(err) }, "could not remove a cancelled run's waits"),
      );
  }
  io.dispose();
  if (end === "succeeded" || end === "failed" || end === "cancelled") {
    const s = stateOf(driven!);
    env.onRun({
      type: end,
      runId: run.id,
      workflow: run.workflow,
      durationMs: env.clock.now() - started,
      error: s.error,
    });
  }
  return end;
}

/** A run whose workflow version cannot be loaded fails at once, saying why. */
/** The run's workflow version, or the run's outcome when it cannot be loaded. */
async function definitionOf(env: RunnerEnv, run: ClaimedRun): Promise<WorkflowDefinition | RunOutcome> {
  try {
    return await env.definitionFor(run.workflow, run.version);
  } catch (err) {
    // Handed over before its row committed (ClaimedRun.ready): that transaction may store the version too.
    if (!run.ready) return failUnloadable(env, run, err);
    if (!(await run.ready.then(yes, no))) return "abandoned";
    try {
      return await env.definitionFor(run.workflow, run.version);
    } catch (again) {
      return failUnloadable(env, run, again);
    }
  }
}

async function failUnloadable(env: RunnerEnv, run: ClaimedRun, err: unknown): Promise<RunOutcome> {
  const s = newRunState(new Date(env.clock.now()).toISOString(), run.attempt);
  const error = { name: "DefinitionError", message: errText(err), step: "" };
  await env.batcher.save(stateItem({ runId: run.id, owner: env.owner }, { ...s, status: "failed", error }));
  env.onRun({ type: "failed", runId: run.id, workflow: run.workflow, error });
  return "failed";
}

/** Whether a step of `state` has succeeded (its outputs must then be read back). */
function anySucceeded(state: RunState): boolean {
  for (const key in state.steps) if (state.steps[key]!.status === "succeeded") return true;
  return false;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
