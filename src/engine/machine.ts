// The run machine (xstate 5), built once per workflow version: choose the next step, begin a try, run it
// with an AbortSignal, time it out, retry after a delay, save after every transition. The machine is the
// one source of truth for what a run does next; it is driven without an xstate actor by drive.ts, for the
// runner (runner.ts): its effects (beginTry, runTry, save: the functions returned with it) are actions
// whose outcome comes back as an event (`<effect>.done` / `<effect>.error`), and its delays are timers on
// the engine's clock. The moves themselves are the pure functions of state.ts.
// The xstate snapshot and the stored RunState: the machine's states (choose, starting, running, ...) are
// where this engine is in one try and are never stored; `context.state` is the RunState, and every save
// stores it (runs.snapshot, without outputs). A resumed run starts a new machine in `choose` from the stored
// RunState alone, so nothing in the xstate snapshot needs to survive a crash. A foreach or parallel is one
// try here; its inner steps are run and saved by tree.ts, which hands the machine back the RunState with
// them. A try that succeeds is saved by its own effect, once it has marked the try as returned (a flag in
// the context that the step's timeout checks): one effect and one state per step. A try effect and a save
// effect in two states allocated 268 KB per three-step no-op run against 200 KB now; in alternating pairs
// of processes, this shape takes about 11% less process CPU per three-step run.
import { assign, setup } from "xstate";
import type { StepError } from "../errors.js";
import { classifyError } from "../steps/classify.js";
import { Park, type ParkRequest } from "../steps/park.js";
import { GroupRolledBack } from "../steps/sql-group.js";
import type { StepClients, StepKind } from "../steps/types.js";
import { type Clock, systemClock } from "./clock.js";
import { oneBudget } from "./definition/cel.js";
import { EVAL_BUDGET_MS } from "./definition/eval-budget.js";
import type { ExprContext, StepDefinition, TriggerEvent, WorkflowDefinition } from "./definition/types.js";
import type { InnerEnd, InnerStep } from "./park/inner.js";
import type { WaitInfo } from "./park/wait-info.js";
import { retryDelayMs, shouldRetry } from "./retry.js";
import {
  completeStep,
  currentStep,
  endIfDone,
  exprSteps,
  markRunning,
  markWaiting,
  type RunState,
  type StepErrorInfo,
  setEntry,
} from "./state.js";
import type { BeginTry } from "./store/save.js";
import type { ResolveTemplate } from "./template.js";
import { ContainerFailed, runContainer, type TreeRows } from "./tree.js";

/** A try's end, as saved in step_tries and reported to listeners. */
export interface TryResult {
  stepKey: string;
  kind: string;
  attempt: number;
  status: "succeeded" | "failed" | "retrying" | "skipped";
  output?: unknown;
  error?: StepErrorInfo;
  durationMs: number;
  /**
   * performance.now() as the try began (inner steps, whose row may be written once, as they end: it dates
   * the row back, finer than the clock's milliseconds, so that the tries keep their order).
   */
  startedAt?: number;
}

/** What one run's machine needs from the runner: durable saves (conditional on the lease) and writes. */
export interface RunIO {
  begin(state: RunState, t: BeginTry): Promise<void>;
  /**
   * `parkMs`: hand the run back to the queue until then, nothing of it kept in memory. `next`: the next step's try
   * begins in the same save (one durable commit per step instead of two); `state` is then as it begins.
   */
  save(
    state: RunState,
    opts: { result?: TryResult; parkMs?: number; next?: BeginTry; committed?: boolean },
  ): Promise<void>;
  /**
   * Commits a step's own transaction on `client` with the record that try `r` succeeded (see
   * StepContext.commit); `committed` saves then leave that try's row as it is. `after`: the run's state
   * after the try (the runner may store it in that transaction). Resolves true when it stored `after` as the
   * run's end: no save follows. Throws SaveFailed when the run must be given up: its lease is lost, or the
   * COMMIT's outcome is unknown (its resume will read it).
   */
  commitTry(
    client: import("pg").PoolClient | import("../steps/types.js").SharedCommit,
    runAttempt: number,
    r: TryResult,
    after?: RunState,
  ): Promise<boolean | undefined>;
  /** Saves the state with the try rows of inner steps that began or ended since the last save (tree.ts). */
  saveTree(state: RunState, rows: TreeRows): Promise<void>;
  /** Waits of inner steps (tree.ts, src/engine/park/inner.ts): registered, checked, and the run parked. */
  inner: InnerIO;
  /** The output of an inner transactional step's try that committed with its record, if it did. */
  committed(runAttempt: number, stepKey: string, attempt: number): Promise<{ output: unknown } | undefined>;
  /**
   * After a successful try, before it is saved (run_writes for save and delete). Returns the output as the
   * run keeps it, for later steps and in its saved state: with secrets redacted.
   */
  afterTry(step: StepDefinition, output: unknown): Promise<unknown>;
  /**
   * Parking (src/engine/park): parks the run in Postgres for what `req` waits for, its try still open, or
   * returns the step's output when that is there already. `parkMs`: until it is due.
   */
  park(
    c: RunInput & { attempt: number },
    step: StepDefinition,
    req: ParkRequest,
  ): Promise<{ parked: true; parkMs: number } | { parked: false; output: unknown }>;
}

export interface InnerIO {
  /** Registers an inner step's wait, or ends the step at once when what it waits for is there. */
  begin(s: InnerStep): Promise<InnerEnd | { wait: WaitInfo; dueMs: number }>;
  /** Whether a wait_for's or call's wait is over (undefined while not). */
  check(w: WaitInfo): Promise<InnerEnd | undefined>;
  /** Parks the run with these waits (its state saved): ms until due, or undefined when one is over. */
  park(state: RunState, waits: WaitInfo[]): Promise<number | undefined>;
  /** Drops the wait rows of the inner steps of the container that ended. */
  drop(): Promise<void>;
}

export interface MachineDeps {
  stepKinds: Record<string, StepKind>;
  clients: StepClients;
  log: import("../log.js").Logger;
  env: Record<string, string>;
  now: () => number;
  random: () => number;
  /** Retry waits at least this long park the run instead of keeping it in memory. */
  parkAfterMs: number;
  resolve: ResolveTemplate;
  /** For inner steps' timeouts and retry waits (tree.ts); the machine's own delays use the driver's (drive.ts). */
  clock?: Clock;
}

export interface RunInput {
  runId: string;
  event: TriggerEvent;
  state: RunState;
  io: RunIO;
  /**
   * The run was parked inside its current container (tree.ts) and is resumed: that container's try goes on
   * (no new try begins), and so do the tries of its inner steps that wait. Cleared once used.
   */
  continues?: { value: boolean };
}

interface Ctx extends RunInput {
  /** Set by the try's effect once its step has returned: the step's timeout no longer applies. */
  returned: { value: boolean };
  /** How long resolving the try's `if` and input took: it counts against the step's timeout. */
  evalMs: number;
  attempt: number;
  stepInput: unknown;
  tryStartedAt: number;
  error?: StepError;
  delayMs: number;
  result?: TryResult;
  /** Why the machine gave the run up (lease lost, database unreachable). */
  abandonError?: unknown;
}

interface SaveParams {
  c: Ctx;
  parkMs?: number;
  fold?: boolean;
}

/**
 * What the driver (drive.ts) sends the machine: CANCEL from outside, and each effect's outcome (`<effect>.done`
 * with what it returned, `<effect>.error` with what it threw).
 */
type MachineEvent =
  | { type: "CANCEL" }
  | { type: "beginTry.done"; output: Planned }
  | { type: "beginTry.error"; error: unknown }
  | { type: "runTry.done"; output: Planned }
  | { type: "runTry.error"; error: unknown }
  | { type: "save.done"; output: Planned | undefined }
  | { type: "save.error"; error: unknown };

/** A run's state moved past the steps whose `if` is false, with the try of the first step that runs. */
interface Planned {
  state: RunState;
  begun?: BeginTry;
  /** Time spent evaluating the begun try's `if` and input. */
  evalMs?: number;
  /** The try parked the run (src/engine/park), due in this many ms. */
  parkedMs?: number;
}

/** A save made by a try's effect failed (a lost lease, an unreachable database): the run is given up. */
export class SaveFailed extends Error {
  constructor(readonly reason: unknown) {
    super("run save failed");
  }
}

export class LeaseLostError extends Error {
  constructor(runId: string) {
    super(`run ${runId}: lease lost to another engine; this engine stops executing it`);
  }
}

export function exprContext(
  def: WorkflowDefinition,
  ctx: Pick<RunInput, "runId" | "event" | "state">,
  now: number,
  env: Record<string, string>,
) {
  const step = currentStep(def, ctx.state);
  const e: ExprContext = {
    event: ctx.event,
    steps: exprSteps(def, ctx.state),
    run: { id: ctx.runId, workflow: def.name, attempt: ctx.state.attempt, started_at: ctx.state.startedAt },
    env,
    now: new Date(now),
    uuidSeed: `${ctx.runId}:${step?.key ?? ""}`,
    // Evaluation is bounded (eval-budget.ts), and never by more than the step's own timeout.
    budgetMs: Math.min(EVAL_BUDGET_MS, step?.timeoutMs ?? EVAL_BUDGET_MS),
  };
  if (ctx.state.phase === "on_failure" && ctx.state.error) e.error = ctx.state.error;
  return e;
}

function errorInfo(e: StepError): StepErrorInfo {
  const where = e instanceof ContainerFailed ? e.error : undefined;
  return {
    name: e.errorName,
    message: e.message,
    retryable: e.retryable,
    ...(where?.index !== undefined ? { index: where.index } : {}),
    ...(where?.branch !== undefined ? { branch: where.branch } : {}),
  };
}

/** A foreach or parallel: one try of it runs its inner steps (tree.ts); it has no timeout of its own. */
const isContainer = (s: StepDefinition) => s.foreach !== undefined || s.parallel !== undefined;

/** The longest delay a timer holds: a container's "timeout", which its guard never lets fire. */
const NO_TIMEOUT_MS = 2_147_483_647;

export function buildRunMachine(def: WorkflowDefinition, deps: MachineDeps) {
  const stepOf = (c: Ctx): StepDefinition => currentStep(def, c.state)!;
  const result = (c: Ctx, status: TryResult["status"], extra: Partial<TryResult>): TryResult => ({
    stepKey: stepOf(c).key,
    kind: stepOf(c).kind,
    attempt: c.attempt,
    status,
    durationMs: deps.now() - c.tryStartedAt,
    ...extra,
  });

  /**
   * Skips the steps whose `if` is false and begins the next one (its input resolved). An error evaluating
   * them throws (`lenient`: stops there instead, leaving that step to `starting`, where it fails the try).
   */
  const planTry = (c: Ctx, from: RunState, lenient: boolean): Planned => {
    let state = from;
    for (;;) {
      const step = currentStep(def, state);
      if (!step) return { state: withRunOutput(c, endIfDone(def, state)) };
      let stepInput: unknown;
      const startedAt = deps.now();
      try {
        const ectx = exprContext(def, { runId: c.runId, event: c.event, state }, startedAt, deps.env);
        // The `if` and the input share one evaluation budget.
        const skip = oneBudget(ectx, () => {
          if (step.if && step.if.evaluate(ectx) !== true) return true;
          stepInput = deps.resolve(step.input, ectx);
          return false;
        });
        if (skip) {
          state = completeStep(def, state, { status: "skipped" });
          continue;
        }
      } catch (err) {
        if (lenient) return { state };
        throw err;
      }
      const attempt = (state.steps[step.key]?.attempts ?? 0) + 1;
      return {
        state: markRunning(state, step.key, attempt),
        begun: { stepKey: step.key, kind: step.kind, attempt, input: stepInput },
        evalMs: deps.now() - startedAt,
      };
    }
  };
  /**
   * A run that succeeded with what it returns: the top-level `output` evaluated, else the last step's
   * output. An error evaluating it fails the run.
   */
  const withRunOutput = (c: Ctx, s: RunState): RunState => {
    if (s.status !== "succeeded" || s.phase !== "main") return s;
    if (def.output === undefined) {
      const last = def.steps.at(-1);
      return last ? { ...s, returnsStep: last.key } : s;
    }
    try {
      return {
        ...s,
        output: deps.resolve(
          def.output,
          exprContext(def, { runId: c.runId, event: c.event, state: s }, deps.now(), deps.env),
        ),
      };
    } catch (err) {
      const e = classifyError(err);
      return { ...s, status: "failed", error: { name: e.errorName, message: e.message, step: "output" } };
    }
  };
  /** The context of a run whose planned try has begun (durably). */
  const begunContext = (p: Planned) => ({
    state: p.state,
    attempt: p.begun!.attempt,
    stepInput: p.begun!.input,
    returned: { value: false },
    evalMs: p.evalMs ?? 0,
  });
  /** The context as a try that a save began (folded with the step before) starts: its input's evaluation counts. */
  const foldedContext = (p: Planned) => ({
    ...begunContext(p),
    tryStartedAt: deps.now() - (p.evalMs ?? 0),
    error: undefined,
    result: undefined,
  });

  /** A container's one try: its inner steps run and are saved by tree.ts; then it ends like any try. */
  const runContainerTry = async (c: Ctx, step: StepDefinition, signal: AbortSignal): Promise<Planned> => {
    const env = {
      def,
      deps,
      clock: deps.clock ?? systemClock,
      runId: c.runId,
      event: c.event,
      io: c.io,
      signal,
      continues: c.continues?.value === true,
    };
    if (c.continues) c.continues.value = false;
    const r = await runContainer(env, c.state, step, c.stepInput);
    // Every inner step in flight waits: the run is parked (tree.ts), its try still open.
    if ("parkedMs" in r) return { state: r.state, parkedMs: r.parkedMs };
    const output = await c.io.afterTry(step, r.output);
    if (signal.aborted) throw signal.reason;
    c.returned.value = true;
    const ended = { ...c, state: completeStep(def, r.state, { status: "succeeded", output }) };
    const p = planTry(ended, ended.state, true);
    try {
      await c.io.save(p.state, { result: result(c, "succeeded", { output }), next: p.begun });
    } catch (err) {
      throw new SaveFailed(err);
    }
    return p;
  };

  const effects = {
    beginTry: async (c: Ctx): Promise<Planned> => {
      // A container the run was parked in goes on with its try (its entry is as it began: one less).
      const step = currentStep(def, c.state);
      const entry = step && c.state.steps[step.key];
      const again = c.continues?.value && step && isContainer(step) && entry?.status === "running";
      const from = again ? setEntry(c.state, step.key, { ...entry, attempts: entry.attempts - 1 }) : c.state;
      const p = planTry(c, from, false);
      if (p.begun && !again) await c.io.begin(p.state, p.begun);
      return p;
    },
    // Resolves once the succeeded try is saved: the state after it, and the next try when that save began one.
    runTry: async (c: Ctx, signal: AbortSignal): Promise<Planned> => {
      const step = stepOf(c);
      if (isContainer(step)) return runContainerTry(c, step, signal);
      const kind = deps.stepKinds[step.kind];
      if (!kind) throw new Error(`unknown step kind "${step.kind}"`);
      // Set when the step's transaction committed with the record of this try (StepContext.commit), with
      // the state after it (planned before that COMMIT) and whether the COMMIT stored it as the run's end.
      let committed: { output: unknown; p: Planned; ended: boolean } | undefined;
      const raw = await kind.run({
        input: c.stepInput,
        signal,
        attempt: c.attempt,
        idempotencyKey: `${c.runId}:${step.key}`,
        log: deps.log,
        clients: deps.clients,
        commit: kind.transactional
          ? async (client, out) => {
              const output = await c.io.afterTry(step, out ?? {});
              if (signal.aborted) throw signal.reason;
              // The COMMIT decides now, not the step's timeout.
              c.returned.value = true;
              const after = completeStep(def, c.state, { status: "succeeded", output });
              const p = planTry({ ...c, state: after }, after, true);
              const done = result(c, "succeeded", { output });
              let ended: boolean | undefined;
              try {
                ended = await c.io.commitTry(client, c.state.attempt, done, p.begun ? after : p.state);
              } catch (err) {
                // A group's transaction rolled back (steps/sql-group.ts): the step runs again alone, timed.
                if (err instanceof GroupRolledBack) c.returned.value = false;
                throw err;
              }
              committed = { output, p, ended: ended === true };
            }
          : undefined,
      });
      // Parking (src/engine/park): the run waits in Postgres with this try open, or the step ends at once.
      let value: unknown = raw;
      if (raw instanceof Park) {
        c.returned.value = true;
        const r = await c.io.park(c, step, raw.request);
        if (r.parked) return { state: c.state, parkedMs: r.parkMs };
        value = r.output;
      }
      const output = committed ? committed.output : await c.io.afterTry(step, value ?? {});
      // Timed out or cancelled meanwhile: the machine has moved on, and this try must not be saved.
      if (signal.aborted) throw signal.reason;
      // Its transaction stored the run's end with it: nothing is left to save.
      if (committed?.ended) return committed.p;
      const done = result(c, "succeeded", { output });
      // From here on the try has succeeded: its timeout no longer applies while it is saved.
      c.returned.value = true;
      const p = committed?.p ?? planTry(c, completeStep(def, c.state, { status: "succeeded", output }), true);
      try {
        await c.io.save(p.state, { result: done, next: p.begun, committed: committed !== undefined });
      } catch (err) {
        throw new SaveFailed(err);
      }
      return p;
    },
    save: async ({ c, parkMs, fold }: SaveParams): Promise<Planned | undefined> => {
      const p = fold ? planTry(c, c.state, true) : undefined;
      await c.io.save(p?.state ?? c.state, { result: c.result, parkMs, next: p?.begun });
      return p;
    },
  };

  const machine = setup({
    types: {} as { context: Ctx; input: RunInput; events: MachineEvent },
    actions: {
      // The effects: declared here, executed by the driver (drive.ts) with these params.
      beginTry: (_, _c: Ctx) => {},
      runTry: (_, _c: Ctx) => {},
      save: (_, _p: SaveParams) => {},
      noteAbandon: assign({
        abandonError: ({ event }) => {
          const err = (event as { error?: unknown }).error;
          return err instanceof SaveFailed ? err.reason : err;
        },
      }),
    },
    delays: {
      stepTimeout: ({ context }) =>
        isContainer(stepOf(context))
          ? NO_TIMEOUT_MS
          : Math.max(0, stepOf(context).timeoutMs - context.evalMs),
      retryDelay: ({ context }) => context.delayMs,
    },
    guards: {
      succeeded: ({ context }) => context.state.status === "succeeded",
      failed: ({ context }) => context.state.status === "failed",
      leaseLost: ({ event }) => (event as { error?: unknown }).error instanceof LeaseLostError,
      saveFailed: ({ event }) => (event as { error?: unknown }).error instanceof SaveFailed,
      canRetry: ({ context }) =>
        shouldRetry(stepOf(context).retry, errorInfo(context.error!), context.attempt),
      parks: ({ context }) => context.delayMs >= deps.parkAfterMs,
    },
  }).createMachine({
    id: "run",
    // Field by field, not a spread of `input`: an object literal of one shape is made at once, where the
    // spread (a clone, then six more fields) took about 15 µs of a new run's way to its first try.
    context: ({ input }) => ({
      runId: input.runId,
      event: input.event,
      state: input.state,
      io: input.io,
      continues: input.continues,
      returned: { value: false },
      evalMs: 0,
      attempt: 0,
      stepInput: undefined,
      tryStartedAt: 0,
      delayMs: 0,
    }),
    initial: "choose",
    on: {
      CANCEL: {
        target: ".cancelled",
        actions: assign({ state: ({ context }) => ({ ...context.state, status: "cancelled" as const }) }),
      },
    },
    states: {
      choose: {
        always: [
          { guard: "succeeded", target: "succeeded" },
          { guard: "failed", target: "failed" },
          { target: "starting" },
        ],
      },
      starting: {
        entry: [
          assign({ tryStartedAt: () => deps.now(), error: undefined, result: undefined }),
          { type: "beginTry", params: ({ context }) => context },
        ],
        on: {
          "beginTry.done": [
            {
              guard: ({ event }) => event.output.begun !== undefined,
              target: "running",
              actions: assign(({ event }) => begunContext(event.output)),
            },
            // Every step left was skipped: save that and end the run.
            {
              target: "saving",
              actions: assign(({ event }) => ({ state: event.output.state, result: undefined })),
            },
          ],
          "beginTry.error": [
            { guard: "leaseLost", target: "abandoned", actions: "noteAbandon" },
            {
              target: "tryFailed",
              // The try failed before it began (its if or input could not be evaluated): it counts as a try,
              // or a retryable error there (a Timeout of the evaluation budget) would be retried for ever.
              actions: assign({
                error: ({ event }) => classifyError(event.error),
                attempt: ({ context }) => (context.state.steps[stepOf(context).key]?.attempts ?? 0) + 1,
              }),
            },
          ],
        },
      },
      running: {
        entry: { type: "runTry", params: ({ context }) => context },
        on: {
          "runTry.done": [
            {
              guard: ({ event }) => event.output.parkedMs !== undefined,
              target: "parked",
              actions: assign({ delayMs: ({ event }) => event.output.parkedMs! }),
            },
            {
              // The try succeeded and its save began the next one: run that.
              guard: ({ event }) => event.output.begun !== undefined,
              target: "running",
              reenter: true,
              actions: assign(({ event }) => foldedContext(event.output)),
            },
            { target: "choose", actions: assign(({ event }) => ({ state: event.output.state })) },
          ],
          "runTry.error": [
            { guard: "saveFailed", target: "abandoned", actions: "noteAbandon" },
            {
              target: "tryFailed",
              actions: assign(({ context, event }) => ({
                error: classifyError(event.error),
                // A container's state holds its inner steps' progress: the failure is saved with it.
                state: event.error instanceof ContainerFailed ? event.error.state : context.state,
              })),
            },
          ],
        },
        after: {
          stepTimeout: {
            // Once the step has returned, its effect is saving the result: that is not timed. A container's
            // inner steps have their own timeouts.
            guard: ({ context }) => !context.returned.value && !isContainer(stepOf(context)),
            target: "tryFailed",
            actions: assign({
              error: ({ context }) =>
                classifyError(null, {
                  timedOut: { stepKey: stepOf(context).key, timeoutMs: stepOf(context).timeoutMs },
                }),
            }),
          },
        },
      },
      tryFailed: {
        always: [
          {
            guard: "canRetry",
            target: "retrySaving",
            actions: assign(({ context }) => {
              const err = context.error!;
              const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
              const delayMs = retryDelayMs(stepOf(context).retry, context.attempt, {
                random: deps.random,
                retryAfterMs,
              });
              return {
                delayMs,
                result: result(context, "retrying", { error: errorInfo(err) }),
                state: markWaiting(context.state, stepOf(context).key, errorInfo(err), context.attempt),
              };
            }),
          },
          {
            target: "saving",
            actions: assign(({ context }) => ({
              result: result(context, "failed", { error: errorInfo(context.error!) }),
              state: completeStep(def, context.state, { status: "failed", error: errorInfo(context.error!) }),
            })),
          },
        ],
      },
      retrySaving: {
        entry: {
          type: "save",
          params: ({ context }) => ({
            c: context,
            parkMs: context.delayMs >= deps.parkAfterMs ? context.delayMs : undefined,
          }),
        },
        on: {
          "save.done": [{ guard: "parks", target: "parked" }, { target: "retryWaiting" }],
          "save.error": { target: "abandoned", actions: "noteAbandon" },
        },
      },
      retryWaiting: { after: { retryDelay: { target: "starting" } } },
      saving: {
        entry: { type: "save", params: ({ context }) => ({ c: context, fold: true }) },
        on: {
          "save.done": [
            {
              // The next try began in this save: run it.
              guard: ({ event }) => event.output?.begun !== undefined,
              target: "running",
              actions: assign(({ event }) => foldedContext(event.output!)),
            },
            {
              target: "choose",
              actions: assign(({ context, event }) => ({ state: event.output?.state ?? context.state })),
            },
          ],
          "save.error": { target: "abandoned", actions: "noteAbandon" },
        },
      },
      succeeded: { type: "final" },
      failed: { type: "final" },
      cancelled: { type: "final" },
      parked: { type: "final" },
      abandoned: { type: "final" },
    },
  });
  return { machine, effects };
}

export type RunLogic = ReturnType<typeof buildRunMachine>;
export type RunMachine = RunLogic["machine"];
