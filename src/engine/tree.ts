// Runs the steps inside a foreach or a parallel: items and branches, their inner steps (tries, retries,
// timeouts on the engine's clock), each inner step saved as a top-level step is. The machine (machine.ts)
// runs a container step as one try that calls runContainer; this module owns the inner tries.
//
// Inner steps live in the same flat RunState.steps map as top-level ones, under instance keys: the
// container's key, then `[<index>]` for an item or `.<branch>` for a branch, then `.<inner key>`
// (`remind[3].tell`, `fan.audit.log`). So the snapshot, the try rows and the resume need nothing new: a
// resumed container runs again and every inner step already finished is passed over, and uuid() (seeded
// by the instance key) is the same for the same inner step of the same item or branch. The one state is
// held in `Tree.state`, a copy of the machine's that only this module changes (entry by entry), and saved
// by `Saver`, which sends at most one save of the run at a time with every change made meanwhile.
//
// An inner sleep, wait_for or call waits durably (src/engine/park/inner.ts: its times and child in its
// entry, a wait_for's row in skyflow.waits). While other inner steps can run, the run stays live and reads
// whether its waits are over; once every inner step in flight waits, the run is parked (tree-waits.ts) and
// the container's try returns `parkedMs`. Resumed, the container's try goes on: finished
// inner steps are passed over, and each waiting one takes its outcome or waits again with the same times.
import { performance } from "node:perf_hooks";
import { FatalStepError, type StepError } from "../errors.js";
import { classifyError } from "../steps/classify.js";
import { Park } from "../steps/park.js";
import type { Clock } from "./clock.js";
import { oneBudget } from "./definition/cel.js";
import { EVAL_BUDGET_MS } from "./definition/eval-budget.js";
import type { ExprContext, StepDefinition, TriggerEvent, WorkflowDefinition } from "./definition/types.js";
import type { MachineDeps, RunIO, TryResult } from "./machine.js";
import type { WaitInfo } from "./park/wait-info.js";
import { retryDelayMs, shouldRetry } from "./retry.js";
import { exprSteps, type RunState, type StepErrorInfo, type StepState } from "./state.js";
import type { BeginTry } from "./store/save.js";
import { Saver } from "./tree-save.js";
import { InnerWaits, TreeParked } from "./tree-waits.js";

export type { TreeRows } from "./tree-save.js";

/** Items one foreach may run over. */
export const MAX_FOREACH_ITEMS = 10_000;

/** A container step failed for good; `state` holds every inner step's progress, for the save and a retry. */
export class ContainerFailed extends FatalStepError {
  constructor(
    readonly error: StepErrorInfo,
    readonly state: RunState,
  ) {
    super(error.name, error.message);
  }
}

/** The steps an inner step's expressions may read besides the top-level ones, and its item's names. */
interface Frame {
  /** Instance-key prefix of this list's steps (`remind[3].`). */
  prefix: string;
  steps: StepDefinition[];
  locals: Record<string, unknown>;
}

export interface TreeEnv {
  def: WorkflowDefinition;
  deps: MachineDeps;
  clock: Clock;
  runId: string;
  event: TriggerEvent;
  io: RunIO;
  signal: AbortSignal;
  /** The run was parked in this container and is resumed (machine.ts RunInput.continues). */
  continues?: boolean;
}

type ListEnd = { ok: true } | { ok: false; error: StepErrorInfo };

/**
 * What a container step's try does: runs it, returns the state with its inner steps done and its output,
 * or `parkedMs` when the run was parked inside it.
 */
export async function runContainer(
  env: TreeEnv,
  state: RunState,
  step: StepDefinition,
  input: unknown,
): Promise<{ state: RunState; output: unknown } | { state: RunState; parkedMs: number }> {
  const tree = new Tree(env, state);
  try {
    const end = await tree.container(step, step.key, input, []);
    await tree.saver.idle();
    // The outcomes its wait_for steps kept on their rows are saved with their steps now.
    if (tree.waiting.waited || env.continues) await env.io.inner.drop();
    if (!end.ok) throw new ContainerFailed(end.error, tree.state);
    return { state: tree.state, output: end.output };
  } catch (err) {
    if (err instanceof TreeParked) return { state: tree.state, parkedMs: err.ms };
    throw err;
  } finally {
    tree.dispose();
  }
}

class Tree {
  readonly saver: Saver;
  /** Set when an inner save failed: the run must be given up, every inner try stops. */
  private readonly abort = new AbortController();
  private readonly resumed: Set<string>;
  /** The inner steps that wait, and the park once all in flight do. */
  readonly waiting: InnerWaits;
  constructor(
    private readonly env: TreeEnv,
    public state: RunState,
  ) {
    this.state = { ...state, steps: { ...state.steps } };
    this.saver = new Saver(
      env.io,
      () => this.state,
      (err) => this.abort.abort(err),
    );
    this.waiting = new InnerWaits({
      io: env.io,
      clock: env.clock,
      saver: this.saver,
      signal: this.abort.signal,
      state: () => this.state,
      set: (key, entry) => this.set(key, entry),
      stop: (reason) => this.abort.abort(reason),
      sleep: (ms) => this.sleep(ms),
    });
    const stop = () => this.abort.abort(env.signal.reason);
    if (env.signal.aborted) stop();
    else env.signal.addEventListener("abort", stop, { once: true });
    // Inner steps that were running when the run stopped (a crash, a lost lease): checked once on resume.
    this.resumed = new Set(
      Object.entries(state.steps)
        .filter(([, s]) => s.status === "running")
        .map(([k]) => k),
    );
  }

  dispose(): void {
    this.saver.dispose();
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * Replaces one step's entry. The tree's state is its own copy (made in the constructor), changed in place:
   * a foreach of 10,000 items changes it some 30,000 times, and a copy per change was quadratic.
   */
  private set(key: string, entry: StepState): void {
    this.state.steps[key] = entry;
  }

  /** Runs a foreach or parallel whose instance key is `key`; `input` is its resolved list (foreach). */
  async container(
    step: StepDefinition,
    key: string,
    input: unknown,
    frames: Frame[],
  ): Promise<{ ok: true; output: unknown } | { ok: false; error: StepErrorInfo }> {
    if (step.foreach) return this.foreach(step, key, input, frames);
    return this.parallel(step, key, frames);
  }

  private async foreach(step: StepDefinition, key: string, input: unknown, frames: Frame[]) {
    const spec = step.foreach!;
    const list = foreachList(step, input);
    const outer = frames.at(-1)?.locals ?? {};
    const frameOf = (i: number): Frame => ({
      prefix: `${key}[${i}].`,
      steps: spec.steps,
      locals: { ...outer, [spec.item]: list[i], index: BigInt(i) },
    });
    // When an item fails for good no new item starts; the ones in flight finish; the first failed wins.
    const run: { next: number; failed?: { index: number; error: StepErrorInfo } } = { next: 0 };
    const failedAt = () => run.failed?.index ?? Number.POSITIVE_INFINITY;
    // Items in flight when the run stopped (a crash, a park) are in flight still: they finish after a failure.
    const inFlight = this.inFlight(key);
    const take = (): number | undefined => {
      while (run.next < list.length) {
        const i = run.next++;
        if (!run.failed || inFlight.has(i)) return i;
      }
      return undefined;
    };
    const worker = async () => {
      for (let i = take(); i !== undefined && !this.signal.aborted; i = take()) {
        const end = await this.list(frameOf(i), frames);
        if (!end.ok && i < failedAt()) run.failed = { index: i, error: end.error };
      }
    };
    await Promise.all(Array.from({ length: Math.min(spec.concurrency, list.length) }, worker));
    if (this.signal.aborted) throw this.signal.reason;
    if (run.failed) {
      const { index, error } = run.failed;
      return {
        ok: false as const,
        error: { ...error, message: `item ${index}: ${error.message}`, index },
      };
    }
    return {
      ok: true as const,
      output: { items: list.map((_, i) => this.outputs(frameOf(i))) },
    };
  }

  /** The items of foreach `key` with an inner step that was running when the run stopped. */
  private inFlight(key: string): Set<number> {
    const out = new Set<number>();
    const at = `${key}[`;
    for (const k of this.resumed) {
      if (!k.startsWith(at)) continue;
      const i = Number.parseInt(k.slice(at.length), 10);
      if (Number.isInteger(i)) out.add(i);
    }
    return out;
  }

  private async parallel(step: StepDefinition, key: string, frames: Frame[]) {
    const locals = frames.at(-1)?.locals ?? {};
    const branches = step.parallel!.branches.map((b) => ({
      name: b.name,
      frame: { prefix: `${key}.${b.name}.`, steps: b.steps, locals },
    }));
    // When a branch fails for good, the others start no new step (`stop`) and the parallel fails once
    // they have stopped.
    const run: { failed?: { branch: string; error: StepErrorInfo } } = {};
    const stop = () => run.failed !== undefined;
    await Promise.all(
      branches.map(async (b) => {
        const end = await this.list(b.frame, frames, stop);
        if (!end.ok && !run.failed) run.failed = { branch: b.name, error: end.error };
      }),
    );
    if (this.signal.aborted) throw this.signal.reason;
    if (run.failed) {
      const { branch, error } = run.failed;
      return {
        ok: false as const,
        error: { ...error, message: `branch ${branch}: ${error.message}`, branch },
      };
    }
    const output: Record<string, unknown> = {};
    for (const b of branches) output[b.name] = this.outputs(b.frame);
    return { ok: true as const, output };
  }

  /** `{<inner id>: <output>}` of one item or branch: null for a step skipped or failed (continue_on_error). */
  private outputs(f: Frame): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of f.steps) {
      if (!s.id) continue;
      const st = this.state.steps[f.prefix + s.key];
      out[s.id] = st?.status === "succeeded" ? (st.output ?? null) : null;
    }
    return out;
  }

  /** One item's or branch's steps in order; stops at the first that fails for good. */
  private async list(frame: Frame, outer: Frame[], stop: () => boolean = () => false): Promise<ListEnd> {
    const frames = [...outer, frame];
    for (const step of frame.steps) {
      const key = frame.prefix + step.key;
      const done = this.state.steps[key];
      if (done && isFinished(done)) {
        if (done.status === "failed" && !step.continueOnError) return { ok: false, error: done.error! };
        continue;
      }
      // A step in flight when the run stopped (a crash, a park) is not a new one: it goes on.
      if ((stop() && !this.resumed.has(key)) || this.signal.aborted) return { ok: true };
      const st = await this.step(step, key, frames);
      if (st.status === "failed" && !step.continueOnError) return { ok: false, error: st.error! };
    }
    return { ok: true };
  }

  /** The expression context of inner step `key`: the run's, plus its lists' earlier steps and names. */
  private context(key: string, step: StepDefinition, frames: Frame[]): ExprContext {
    const { def, runId, event, deps } = this.env;
    const steps = exprSteps(def, this.state);
    for (const f of frames) {
      for (const s of f.steps) {
        const st = this.state.steps[f.prefix + s.key];
        if (s.id && st && isFinished(st) && st.status !== "running" && st.status !== "waiting")
          steps[s.id] = { output: st.output ?? null, status: st.status };
      }
    }
    return {
      ...frames.at(-1)!.locals,
      event,
      steps,
      run: { id: runId, workflow: def.name, attempt: this.state.attempt, started_at: this.state.startedAt },
      env: deps.env,
      now: new Date(deps.now()),
      uuidSeed: `${runId}:${key}`,
      budgetMs: Math.min(EVAL_BUDGET_MS, step.timeoutMs),
    };
  }

  /** One inner step to its end: skipped, succeeded or failed for good (after its retries). */
  private async step(step: StepDefinition, key: string, frames: Frame[]): Promise<StepState> {
    if (step.foreach || step.parallel) return this.stepOnce(step, key, frames);
    this.waiting.enter();
    try {
      return await this.stepOnce(step, key, frames);
    } finally {
      this.waiting.leave();
    }
  }

  private async stepOnce(step: StepDefinition, key: string, frames: Frame[]): Promise<StepState> {
    const { deps, io } = this.env;
    const prev = this.state.steps[key];
    // A wait begun before the run stopped: its times, child or row are kept. Resumed from its park, its
    // try goes on (no new try), as does that of a nested container it waits in; after a crash, a new try
    // waits with them.
    const prior =
      prev?.status === "running" || prev?.status === "waiting"
        ? (prev.park ?? legacySleep(key, prev))
        : undefined;
    const container = step.foreach !== undefined || step.parallel !== undefined;
    let again =
      prev?.status === "running" &&
      (prior !== undefined || container) &&
      this.env.continues === true &&
      this.resumed.has(key);
    if (this.resumed.delete(key) && deps.stepKinds[step.kind]?.transactional) {
      // Its transaction may have committed with the record of its success just before the run stopped.
      const prev = this.state.steps[key]!;
      const done = await io.committed(this.state.attempt, key, prev.attempts);
      if (done) {
        this.set(key, { status: "succeeded", attempts: prev.attempts, output: done.output });
        await this.saver.save({});
        return this.state.steps[key]!;
      }
    }
    for (;;) {
      const attempt = (this.state.steps[key]?.attempts ?? 0) + (again ? 0 : 1);
      const startedAt = deps.now();
      const begunPerf = performance.now();
      let input: unknown;
      let skip = false;
      let error: StepError | undefined;
      try {
        const ctx = this.context(key, step, frames);
        skip = oneBudget(ctx, () => {
          if (step.if && step.if.evaluate(ctx) !== true) return true;
          input = step.parallel ? {} : deps.resolve(step.input, ctx);
          return false;
        });
      } catch (err) {
        error = classifyError(err);
      }
      if (skip) {
        this.set(key, { status: "skipped", attempts: this.state.steps[key]?.attempts ?? 0 });
        this.saver.save({}).catch(() => {});
        return this.state.steps[key]!;
      }
      const begun: BeginTry = { stepKey: key, kind: step.kind, attempt, input };
      if (!error) {
        // A wait keeps its times through a retry of its step (a read that failed, say).
        const park = this.state.steps[key]?.park ?? prior;
        this.set(key, { status: "running", attempts: attempt, ...(park ? { park } : {}) });
        error = await this.attempt(step, key, begun, frames, startedAt, begunPerf, again);
        if (!error) return this.state.steps[key]!;
      }
      again = false;
      if (this.signal.aborted) throw this.signal.reason;
      const info = errorInfo(error);
      const ended = (status: TryResult["status"]): TryResult => ({
        stepKey: key,
        kind: step.kind,
        attempt,
        status,
        error: info,
        durationMs: deps.now() - startedAt,
        startedAt: begunPerf,
      });
      if (!(step.foreach || step.parallel) && shouldRetry(step.retry, info, attempt)) {
        const delay = retryDelayMs(step.retry, attempt, {
          random: deps.random,
          retryAfterMs: (error as { retryAfterMs?: number }).retryAfterMs,
        });
        const park = this.state.steps[key]?.park;
        this.set(key, { status: "waiting", attempts: attempt, error: info, ...(park ? { park } : {}) });
        await this.saver.save({ result: ended("retrying") });
        await this.sleep(delay);
        continue;
      }
      this.set(key, { status: "failed", attempts: attempt, error: info });
      // Not awaited, so that the other items and branches learn of the failure at once.
      this.saver.save({ result: ended("failed") }).catch(() => {});
      return this.state.steps[key]!;
    }
  }

  /** One try of a leaf step, or the one run of a nested container; undefined when it succeeded. */
  private async attempt(
    step: StepDefinition,
    key: string,
    begun: BeginTry,
    frames: Frame[],
    startedAt: number,
    begunPerf: number,
    again = false,
  ): Promise<StepError | undefined> {
    const { deps, io } = this.env;
    const kind = deps.stepKinds[step.kind];
    // The begin must land before the step runs when the step changes records (its loop-guard intents) or
    // commits its own transaction with the record of its try; otherwise it travels with the next save.
    // (A try that goes on after a park began before it.)
    const mustLand = kind?.transactional === true || step.kind === "save" || step.kind === "delete";
    if (!again) {
      const begin = this.saver.save({ begin: begun });
      if (mustLand) await begin;
      else begin.catch(() => {});
    }
    const ended = (output: unknown): TryResult => ({
      stepKey: key,
      kind: step.kind,
      attempt: begun.attempt,
      status: "succeeded",
      output,
      durationMs: deps.now() - startedAt,
      startedAt: begunPerf,
    });
    if (step.foreach || step.parallel) {
      const end = await this.container(step, key, begun.input, frames);
      if (!end.ok) return new ContainerFailed(end.error, this.state);
      this.set(key, { status: "succeeded", attempts: begun.attempt, output: end.output });
      await this.saver.save({ result: ended(end.output) });
      return undefined;
    }
    const ac = new AbortController();
    const onAbort = () => ac.abort(this.signal.reason);
    this.signal.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer = this.env.clock.setTimeout(() => {
      timedOut = true;
      ac.abort(new Error(`step ${key} timed out`));
    }, step.timeoutMs);
    let committed: { output: unknown } | undefined;
    try {
      if (!kind) throw new FatalStepError("InternalError", `unknown step kind "${step.kind}"`);
      const run = kind.run({
        input: begun.input,
        signal: ac.signal,
        attempt: begun.attempt,
        idempotencyKey: `${this.env.runId}:${key}`,
        log: deps.log,
        clients: deps.clients,
        commit: kind.transactional
          ? async (client, out) => {
              const output = await io.afterTry(step, out ?? {});
              if (ac.signal.aborted) throw ac.signal.reason;
              await io.commitTry(client, this.state.attempt, ended(output));
              committed = { output };
            }
          : undefined,
      });
      let raw = await abortable(run, ac.signal);
      if (raw instanceof Park) {
        // What a sleep, a wait_for or a call waits for is not timed by the step's timeout.
        this.env.clock.clearTimeout(timer);
        const expr = this.context(key, step, frames);
        raw = await this.waiting.wait(key, step, raw.request, expr, frames.at(-1)?.locals ?? {});
      }
      const output = committed ? committed.output : await io.afterTry(step, raw ?? {});
      this.set(key, { status: "succeeded", attempts: begun.attempt, output });
      this.env.clock.clearTimeout(timer);
      // The next step does not wait for this save: it travels with the next ones (the container ends only
      // once every save has landed, and a failed save stops the run). After a crash before it lands, this
      // try runs again, as any try whose end was not saved.
      this.saver.save({ result: ended(output), committed: committed !== undefined }).catch(() => {});
      return undefined;
    } catch (err) {
      if (committed) throw err;
      if (timedOut) return classifyError(null, { timedOut: { stepKey: key, timeoutMs: step.timeoutMs } });
      if (this.signal.aborted) throw this.signal.reason;
      return classifyError(err);
    } finally {
      this.env.clock.clearTimeout(timer);
      this.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Waits `ms` on the engine's clock; an abort ends the wait with the abort's reason. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.env.clock.setTimeout(() => {
        this.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.env.clock.clearTimeout(timer);
        reject(this.signal.reason);
      };
      this.signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** A step's promise, or the abort's reason as soon as the signal fires (a step that ignores it is left). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** The list a foreach runs over, or the run error naming what it got instead. */
export function foreachList(step: StepDefinition, input: unknown): unknown[] {
  const at = `foreach ${step.id ?? step.key}`;
  if (!Array.isArray(input)) {
    const type = input === null ? "null" : typeof input === "object" ? "a mapping" : typeof input;
    throw new FatalStepError("ForeachError", `${at}: expected a list to run over, got ${type}`);
  }
  if (input.length > MAX_FOREACH_ITEMS) {
    throw new FatalStepError(
      "ForeachError",
      `${at}: the list has ${input.length} items, more than the limit of ${MAX_FOREACH_ITEMS}`,
    );
  }
  return input;
}

/** The input kept in a container's try row: its size, not the list (the expression gives it again). */
export function containerSummary(kind: string, input: unknown): unknown {
  if (kind === "foreach") return { items: Array.isArray(input) ? input.length : null };
  return {};
}

/** An inner sleep's times saved before `park` existed, as its park. */
function legacySleep(key: string, s: StepState): WaitInfo | undefined {
  return s.sleep ? { kind: "sleep", step: key, ...s.sleep } : undefined;
}

function isFinished(s: StepState): boolean {
  return s.status === "succeeded" || s.status === "failed" || s.status === "skipped";
}

function errorInfo(e: StepError): StepErrorInfo {
  const extra = e instanceof ContainerFailed ? e.error : undefined;
  return { name: e.errorName, message: e.message, retryable: e.retryable, ...pick(extra) };
}

function pick(e: StepErrorInfo | undefined): Partial<StepErrorInfo> {
  if (!e) return {};
  return {
    ...(e.index !== undefined ? { index: e.index } : {}),
    ...(e.branch !== undefined ? { branch: e.branch } : {}),
  };
}
