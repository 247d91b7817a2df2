// Executes one claimed run: rebuilds its state (new, resumed, or retried), drives its machine on the
// engine's clock with durable saves conditional on the lease, and reports how it ended. The engine owns
// claiming, leases and capacity; this module owns one run. Its machine (machine.ts) runs without an xstate
// actor: drive.ts applies the machine's transitions and executes the effects they call for (the try, the
// saves: the RunIO made here). The machine's xstate snapshot lives in memory only, while the run executes
// here; the RunState in its context is what every save stores, and all a resume starts from.
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { redact } from "../errors.js";
import type { Logger } from "../log.js";
import { isPgError } from "../steps/classify.js";
import type { Clock } from "./clock.js";
import { CONTAINER_KINDS } from "./definition/schema.js";
import type { TriggerEvent, WorkflowDefinition } from "./definition/types.js";
import { type Driven, drive } from "./drive.js";
import {
  buildRunMachine,
  exprContext,
  LeaseLostError,
  type MachineDeps,
  type RunInput,
  type RunIO,
  type RunLogic,
  SaveFailed,
  type TryResult,
} from "./machine.js";
import { beginInner, checkInner, dropInnerWaits, type InnerContext, parkInside } from "./park/inner.js";
import { parkRun } from "./park/park.js";
import { resumeParked } from "./park/resume.js";
import {
  completeStep,
  currentStep,
  endedByMachine,
  isTerminal,
  newRunState,
  type RunState,
  retryFromFailure,
  withOutputs,
} from "./state.js";
import type { SaveBatcher, SaveItem, TryRow } from "./store/batch.js";
import type { ClaimedRun } from "./store/claim.js";
import { commitTry, committedOutput, LEASE_LOST_SQLSTATE } from "./store/commit-try.js";
import { markInterrupted } from "./store/lease.js";
import { type BeginTry, beginItem, runState, stateItem, stepOutputs, treeItem } from "./store/save.js";
import { storable } from "./store/storable.js";
import { intentsOf, type RunWrite, writesOf } from "./store/writes.js";
import { containerSummary } from "./tree.js";

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

/**
 * How long the begin save of a new run's first try is held back: a try that ends sooner is saved once, as it
 * ends. In bench/engine.ts this saves one durable save of four per three-step run.
 */
export const BEGIN_HOLD_MS = 500;

interface Held {
  item: SaveItem;
  startedAt: number;
  timer: unknown;
}

interface RunnerIO extends RunIO {
  /** Resolves once the machine's last save has settled. */
  settled(): Promise<void>;
  /** The item with the held begin save's try row merged in (the begin is then no longer held). */
  withHeld(item: SaveItem): SaveItem;
  /** Drops a begin save still held (the run stopped here without another save). */
  dispose(): void;
  /** An inner wait_for began in this execution, so the run may have rows in skyflow.waits (inner.ts). */
  innerWaitsBegun(): boolean;
}

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

/** The state a claimed run starts from, and whether it is a resume. */
export function initialState(def: WorkflowDefinition, run: ClaimedRun, nowIso: string): RunState {
  const snap = run.snapshot as (RunState & { retry?: boolean }) | null;
  if (!snap) return newRunState(nowIso, run.attempt);
  if (snap.retry) return retryFromFailure(def, snap);
  return snap;
}

export function startRun(env: RunnerEnv, run: ClaimedRun): LiveRun {
  const live: LiveRun = { id: run.id, workflow: run.workflow, done: undefined!, cancel() {}, halt() {} };
  live.done = execute(env, run, live).catch((err) => {
    env.log.error({ runId: run.id, err: errText(err) }, "run stopped by an engine error");
    return "abandoned" as const;
  });
  return live;
}

async function execute(env: RunnerEnv, run: ClaimedRun, live: LiveRun): Promise<RunOutcome> {
  const target = { runId: run.id, owner: env.owner };
  // Halted (its lease lapsed here, or the engine stopping) before its machine starts: it must not start it.
  // The engine has forgotten it already and may claim it again, and a second execution here would pass the
  // lease checks of the first (the same owner): a sql step committed twice.
  let halted = false;
  live.halt = () => {
    halted = true;
  };
  let def: WorkflowDefinition;
  try {
    def = await env.definitionFor(run.workflow, run.version);
  } catch (err) {
    return failUnloadable(env, run, err);
  }
  const started = env.clock.now();
  let state = initialState(def, run, new Date(started).toISOString());
  if (Object.values(state.steps).some((st) => st.status === "succeeded"))
    state = withOutputs(
      state,
      run.outputs ? new Map(Object.entries(run.outputs)) : await stepOutputs(env.pool, run.id),
    );
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
  env.onRun({ type: run.snapshot ? "resumed" : "started", runId: run.id, workflow: run.workflow });
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
    const input: RunInput = {
      runId: run.id,
      event: run.event as TriggerEvent,
      state,
      io,
      ...(inside ? { continues: { value: true } } : {}),
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

function runIO(
  env: RunnerEnv,
  run: ClaimedRun,
  def: WorkflowDefinition,
  target: { runId: string; owner: string },
  stopEarly: (err: unknown) => void,
  cancelled: () => boolean,
  resumed?: TryRow,
): RunnerIO {
  // A resumed parked step's end (src/engine/park), written by the run's first save.
  let carry = resumed;
  const inner: InnerContext = {
    pool: env.pool,
    owner: env.owner,
    runId: run.id,
    depth: run.depth,
    def,
    workflow: (name) => env.workflow?.(name),
    env: env.deps.env,
    now: () => env.clock.now(),
  };
  const withCarry = (item: SaveItem): SaveItem => {
    if (!carry) return item;
    const row = carry;
    carry = undefined;
    return { ...item, tries: [row, ...item.tries] };
  };
  let innerWaitsBegun = false;
  // Records a save or delete step wrote; saved with that step's result, in the same statement.
  let writes: RunWrite[] = [];
  const beginning = <T extends BeginTry>(t: T) => {
    // A container's row keeps its size, not its list (the expression gives the list again on resume).
    const input = CONTAINER_KINDS.includes(t.kind)
      ? containerSummary(t.kind, t.input)
      : storable(redact(t.input, env.secrets));
    return { begin: { ...t, input }, intents: intentsOf(t.kind, t.input) };
  };
  // The machine's last save; a run has at most one in flight.
  let last: Promise<boolean> = Promise.resolve(true);
  const saved = (item: SaveItem) => {
    last = env.batcher.save(item);
    return last;
  };
  // A new run's first try may start while the save that begins it is in flight (see `begin`); the next
  // save waits for that one, and fails as it failed.
  let fresh = run.snapshot === null;
  let beginning$: Promise<void> | undefined;
  const landed = async () => {
    const b = beginning$;
    beginning$ = undefined;
    await b;
  };
  const sent = (item: SaveItem) =>
    saved(item).then((done) => {
      if (!done) throw new LeaseLostError(run.id);
    });
  // The begin save of a new run's first try while it is held back (see `begin`).
  let held: Held | undefined;
  const io: RunnerIO = {
    async settled() {
      await last.catch(() => {});
    },
    async begin(state, t) {
      const { begin, intents } = beginning(t);
      const item = withCarry(beginItem(target, state, begin));
      if (intents.length > 0) item.writes = { depth: run.depth, list: intents };
      const first = fresh;
      fresh = false;
      // The first try of a new run starts without waiting for its begin save when it records no loop-guard
      // intents. A crash before that save lands leaves a run with no state, which is claimed again and
      // begins again: the same try, with the same input (its uuid() values and idempotency key derive from
      // the run id, which derives from the event), just as a crash after the save resumes the interrupted
      // try. A save or delete step waits: its intents must be in place before its records change. So does a
      // step that commits its own transaction with the record of its try (see commitTry).
      // That begin save is held back for BEGIN_HOLD_MS: a try that ends sooner writes its row once, with
      // its result (one durable save per step, the first one included). A try still running then is saved
      // as begun, and should that save fail or find the lease gone, it is stopped (its AbortSignal fires)
      // at once: the run may not be this engine's (a database crash can lose the commit that leased it, and
      // another engine may claim the run once the database is back), and it must not run in two places.
      // A transactional step's (sql) is held until its try ends, with no timer: its COMMIT writes its row and
      // the run's state after it, and is itself conditional on the lease and the claim (commitTry), so
      // nothing runs twice. A crash before that COMMIT rolls its effect back with the record of it.
      const transactional = env.deps.stepKinds[t.kind]?.transactional === true;
      if (first && intents.length === 0 && transactional && item.tries.length === 1) {
        held = { item, startedAt: env.clock.now(), timer: undefined };
        return;
      }
      const holdable = !transactional && !CONTAINER_KINDS.includes(t.kind);
      if (first && intents.length === 0 && holdable) {
        const h: Held = { item, startedAt: env.clock.now(), timer: undefined };
        h.timer = env.clock.setTimeout(() => {
          if (held !== h) return;
          held = undefined;
          const ok = sent(item);
          ok.catch(stopEarly);
          beginning$ = ok;
        }, BEGIN_HOLD_MS);
        held = h;
        return;
      }
      await sent(item);
    },
    withHeld(item) {
      const h = held;
      if (!h) return item;
      held = undefined;
      if (h.timer !== undefined) env.clock.clearTimeout(h.timer);
      const row = h.item.tries[0]!;
      const startedAgoMs = Math.max(0, env.clock.now() - h.startedAt);
      const i = item.tries.findIndex(
        (r) => r.stepKey === row.stepKey && r.attempt === row.attempt && r.runAttempt === row.runAttempt,
      );
      const tries = [...item.tries];
      if (i >= 0) tries[i] = { ...tries[i]!, input: row.input, startedAgoMs };
      else tries.unshift({ ...row, startedAgoMs });
      return { ...item, tries };
    },
    innerWaitsBegun: () => innerWaitsBegun,
    dispose() {
      if (held?.timer !== undefined) env.clock.clearTimeout(held.timer);
      held = undefined;
    },
    async save(state, opts) {
      await landed();
      if (cancelled()) throw new Error(`run ${run.id}: cancelled; save dropped`);
      // A folded begin adds the next try's intents to the ended try's exact writes (see batch.ts).
      const next = opts.next ? beginning(opts.next) : undefined;
      const list = next ? [...writes, ...next.intents] : writes;
      const item = withCarry(
        stateItem(target, redactErrors(state, env.secrets), {
          result: opts.result && redactErrors(opts.result, env.secrets),
          resultSaved: opts.committed,
          parkMs: opts.parkMs,
          next: next?.begin,
          writes: { depth: run.depth, list },
        }),
      );
      writes = [];
      if (!(await saved(io.withHeld(item)))) throw new LeaseLostError(run.id);
      if (opts.result) reportTry(env, def, run.id, opts.result);
    },
    async commitTry(client, runAttempt, r, after) {
      // Either the save that began this try has landed, so a resumed run finds this record from its saved
      // state, or that begin is held (a new run's first try: see `begin`) and this COMMIT writes the try's
      // row and the state after it. When the try ends the run, its end commits here too: no save follows.
      // Nothing here may wait for a pooled connection: the step holds one, and all of them could be held so.
      if (cancelled()) throw new Error(`run ${run.id}: cancelled; not committed`);
      const h = held;
      const row = h?.item.tries[0];
      if (
        h &&
        !(row && row.stepKey === r.stepKey && row.attempt === r.attempt && row.runAttempt === runAttempt)
      )
        throw new Error(`run ${run.id}: a begin save held for another try`);
      // Only when no save is due for anything else: a resumed parked step's end, writes of earlier tries.
      const ends = after !== undefined && isTerminal(after.status) && !carry && writes.length === 0;
      const stored =
        after !== undefined && (ends || h !== undefined) ? redactErrors(after, env.secrets) : undefined;
      const t = {
        runId: run.id,
        owner: env.owner,
        runAttempt,
        stepKey: r.stepKey,
        attempt: r.attempt,
        kind: r.kind,
        output: JSON.stringify(r.output ?? {}),
        claims: run.claims ?? null,
        input: row?.input ?? null,
        state: stored && runState(stored),
      };
      try {
        await commitTry(client, t);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === LEASE_LOST_SQLSTATE) throw new SaveFailed(new LeaseLostError(run.id));
        // An error the server answered with rolled the transaction back; without an answer (the connection
        // lost) the COMMIT may have landed: give the run up, and its resume reads what committed.
        if (!answered(err)) throw new SaveFailed(err);
        throw err;
      }
      // The held begin is written: a save from here on must not write it again.
      if (h && held === h) held = undefined;
      if (!ends) return false;
      reportTry(env, def, run.id, r);
      return true;
    },
    async saveTree(state, rows) {
      await landed();
      if (cancelled()) throw new SaveFailed(new Error(`run ${run.id}: cancelled; save dropped`));
      const begun = rows.begins.map((b) => beginning(b));
      const list = [...writes, ...begun.flatMap((b) => b.intents)];
      writes = [];
      const item = treeItem(
        target,
        redactErrors(state, env.secrets),
        {
          results: rows.results.map((r) => redactErrors(r, env.secrets)),
          begins: begun.map((b) => b.begin),
          committed: rows.committed,
        },
        { depth: run.depth, list },
        performance.now(),
      );
      let ok: boolean;
      try {
        ok = await saved(io.withHeld(item));
      } catch (err) {
        throw new SaveFailed(err);
      }
      if (!ok) throw new SaveFailed(new LeaseLostError(run.id));
      for (const r of rows.results) reportTry(env, def, run.id, r);
    },
    inner: {
      begin: (st) => {
        if (st.req.kind === "wait_for") innerWaitsBegun = true;
        return beginInner(inner, st);
      },
      check: (w) => checkInner(inner, w),
      async park(state, waits) {
        await landed();
        await io.settled();
        if (cancelled()) throw new Error(`run ${run.id}: cancelled; not parked`);
        return parkInside(inner, redactErrors(state, env.secrets), waits);
      },
      drop: () => dropInnerWaits(env.pool, run.id),
    },
    committed(runAttempt, stepKey, attempt) {
      return committedOutput(env.pool, run.id, runAttempt, stepKey, attempt);
    },
    async afterTry(step, output) {
      // Appended: the inner steps of a container may end several tries before one save takes them.
      writes = [...writes, ...writesOf(step.kind, output)];
      return storable(redact(output, env.secrets));
    },
    async park(c, step, req) {
      // The try's begin must be stored before the park (it dates the wait): flush one held back.
      await landed();
      const h = held;
      if (h) {
        held = undefined;
        env.clock.clearTimeout(h.timer);
        await sent(h.item);
      }
      await io.settled();
      if (cancelled()) throw new Error(`run ${run.id}: cancelled; not parked`);
      return parkRun(
        {
          pool: env.pool,
          owner: env.owner,
          runId: run.id,
          depth: run.depth,
          def,
          state: c.state,
          step,
          attempt: c.attempt,
          event: c.event,
          expr: exprContext(def, c, env.clock.now(), env.deps.env),
          env: env.deps.env,
          workflow: (name) => env.workflow?.(name),
          secrets: env.secrets,
        },
        req,
      );
    },
  };
  return io;
}

/**
 * The state (or try result) with its error messages redacted like everything stored: a SQL or network error
 * can quote a value, a key included. Only error messages are walked; outputs were redacted as they came.
 */
function redactErrors<T extends { error?: { message: string }; steps?: RunState["steps"] }>(
  x: T,
  secrets: string[],
): T {
  const msg = <E extends { message: string }>(e: E): E => ({
    ...e,
    message: redact(e.message, secrets) as string,
  });
  let out = x.error ? { ...x, error: msg(x.error) } : x;
  if (x.steps && Object.values(x.steps).some((s) => s.error)) {
    const steps: RunState["steps"] = {};
    for (const [k, s] of Object.entries(x.steps)) steps[k] = s.error ? { ...s, error: msg(s.error) } : s;
    out = { ...out, steps };
  }
  return out;
}

function reportTry(env: RunnerEnv, def: WorkflowDefinition, runId: string, r: TryResult): void {
  if (r.status === "skipped") return;
  env.onStep({
    type: r.status === "retrying" ? "retried" : r.status,
    runId,
    workflow: def.name,
    stepKey: r.stepKey,
    kind: r.kind,
    attempt: r.attempt,
    durationMs: r.durationMs,
    error: r.error ? { name: r.error.name, message: r.error.message } : undefined,
  });
}

/** A run whose workflow version cannot be loaded fails at once, saying why. */
async function failUnloadable(env: RunnerEnv, run: ClaimedRun, err: unknown): Promise<RunOutcome> {
  const s = newRunState(new Date(env.clock.now()).toISOString(), run.attempt);
  const error = { name: "DefinitionError", message: errText(err), step: "" };
  await env.batcher.save(stateItem({ runId: run.id, owner: env.owner }, { ...s, status: "failed", error }));
  env.onRun({ type: "failed", runId: run.id, workflow: run.workflow, error });
  return "failed";
}

/** An error the server sent, other than a connection failure or a shutdown. */
function answered(err: unknown): boolean {
  return isPgError(err) && !err.code.startsWith("08") && !err.code.startsWith("57P");
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
