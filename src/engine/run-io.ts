// A run's saves and writes as its machine asks for them (the RunIO of machine.ts): durable saves through the
// batcher, conditional on the lease; a new run's first begin save held back; a transactional step's COMMIT;
// the waits of inner steps. One object per run (runner.ts makes it), with no I/O of its own beyond those.
// Past 400 lines because the held-begin rules of `begin`, `withHeld`, `commitTry` and `park` must be read
// together: each relies on the others to write a held try row exactly once.
import { performance } from "node:perf_hooks";
import { redact } from "../errors.js";
import { isPgError } from "../steps/classify.js";
import type { ParkRequest } from "../steps/park.js";
import { GroupRolledBack } from "../steps/sql-group.js";
import type { SharedCommit } from "../steps/types.js";
import { CONTAINER_KINDS } from "./definition/schema.js";
import type { StepDefinition, WorkflowDefinition } from "./definition/types.js";
import {
  exprContext,
  type InnerIO,
  LeaseLostError,
  type RunInput,
  type RunIO,
  SaveFailed,
  type TryResult,
} from "./machine.js";
import { beginInner, checkInner, dropInnerWaits, type InnerContext, parkInside } from "./park/inner.js";
import { parkRun } from "./park/park.js";
import type { RunnerEnv } from "./runner.js";
import { isTerminal, type RunState } from "./state.js";
import type { SaveItem, TryRow } from "./store/batch.js";
import type { ClaimedRun } from "./store/claim.js";
import { commitTry, committedOutput, LEASE_LOST_SQLSTATE } from "./store/commit-try.js";
import { type BeginTry, beginItem, beginRow, runState, stateItem, treeItem } from "./store/save.js";
import { storable } from "./store/storable.js";
import { intentsOf, type RunWrite, writesOf } from "./store/writes.js";
import { containerSummary, type TreeRows } from "./tree.js";

/**
 * How long the begin save of a new run's first try is held back: a try that ends sooner is saved once, as it
 * ends. In bench/engine.ts this saves one durable save of four per three-step run.
 */
export const BEGIN_HOLD_MS = 500;

interface Held {
  /** The begin save: built when first asked for (see `begin`), once. */
  item(): SaveItem;
  /** Its try row (the one row it has). */
  row(): TryRow;
  startedAt: number;
  timer: unknown;
}

/** A Held whose save is built already. */
function heldOf(item: SaveItem, startedAt: number): Held {
  return { item: () => item, row: () => item.tries[0]!, startedAt, timer: undefined };
}

export interface RunnerIO extends RunIO {
  /** Resolves once the machine's last save has settled. */
  settled(): Promise<void>;
  /** The item with the held begin save's try row merged in (the begin is then no longer held). */
  withHeld(item: SaveItem): SaveItem;
  /** Drops a begin save still held (the run stopped here without another save). */
  dispose(): void;
  /** An inner wait_for began in this execution, so the run may have rows in skyflow.waits (inner.ts). */
  innerWaitsBegun(): boolean;
}

export function runIO(
  env: RunnerEnv,
  run: ClaimedRun,
  def: WorkflowDefinition,
  target: { runId: string; owner: string },
  stopEarly: (err: unknown) => void,
  cancelled: () => boolean,
  resumed?: TryRow,
): RunnerIO {
  return new RunIOImpl(env, run, def, target, stopEarly, cancelled, resumed);
}

/**
 * A run's saves and writes. A class: its state is fields, and a run costs one object and no closures (a
 * run's objects live as long as it does, and so are copied into the old generation).
 */
class RunIOImpl implements RunnerIO {
  // Records a save or delete step wrote; saved with that step's result, in the same statement.
  private writes: RunWrite[] = [];
  private innerBegun = false;
  // The machine's last save; a run has at most one in flight.
  private last: Promise<boolean> = Promise.resolve(true);
  // A new run's first try may start while the save that begins it is in flight (see `begin`); the next
  // save waits for that one, and fails as it failed.
  private fresh: boolean;
  // Resumed from a top-level sleep the waker ended in the database (its try's end stored already): its
  // next try's begin may be held as a new run's first is (see `begin`).
  private afterEndedSleep: boolean;
  private beginning$: Promise<void> | undefined;
  // The begin save of a new run's first try while it is held back (see `begin`).
  private held: Held | undefined;
  private innerIO: InnerIO | undefined;
  // Handed over while the transaction creating its row was committing (ClaimedRun.ready): until that COMMIT
  // is answered with the row created, nothing is saved, no try but a held transactional one starts, and no
  // step's own transaction commits (so a rolled-back creation leaves nothing behind).
  private ready: Promise<void> | undefined;

  constructor(
    private readonly env: RunnerEnv,
    private readonly run: ClaimedRun,
    private readonly def: WorkflowDefinition,
    private readonly target: { runId: string; owner: string },
    private readonly stopEarly: (err: unknown) => void,
    private readonly cancelled: () => boolean,
    // A resumed parked step's end (src/engine/park), written by the run's first save.
    private carry: TryRow | undefined,
  ) {
    this.fresh = run.snapshot === null;
    this.ready = run.ready;
    const wait = run.wait as { kind?: string; inner?: unknown } | null | undefined;
    this.afterEndedSleep =
      !this.fresh &&
      carry === undefined &&
      wait?.kind === "sleep" &&
      wait.inner === undefined &&
      (run.wake as { slept?: unknown } | null | undefined)?.slept !== undefined;
  }

  private withCarry(item: SaveItem): SaveItem {
    if (!this.carry) return item;
    const row = this.carry;
    this.carry = undefined;
    return { ...item, tries: [row, ...item.tries] };
  }

  private beginning<T extends BeginTry>(t: T) {
    // A container's row keeps its size, not its list (the expression gives the list again on resume).
    const input = CONTAINER_KINDS.includes(t.kind)
      ? containerSummary(t.kind, t.input)
      : storable(redact(t.input, this.env.secrets));
    return { begin: { ...t, input }, intents: intentsOf(t.kind, t.input) };
  }

  private saved(item: SaveItem): Promise<boolean> {
    this.last = this.ready
      ? this.created().then(
          () => this.env.batcher.save(item),
          () => false,
        )
      : this.env.batcher.save(item);
    return this.last;
  }

  /** Settles once the run's row is committed (see `ready`); a LeaseLostError when it never was. */
  private async created(): Promise<void> {
    const r = this.ready;
    if (!r) return;
    try {
      await r;
    } catch {
      throw new LeaseLostError(this.run.id);
    }
    this.ready = undefined;
  }

  private async landed(): Promise<void> {
    const b = this.beginning$;
    this.beginning$ = undefined;
    await b;
  }

  private sent(item: SaveItem): Promise<void> {
    return this.saved(item).then((done) => {
      if (!done) throw new LeaseLostError(this.run.id);
    });
  }

  async settled(): Promise<void> {
    await this.last.catch(() => {});
  }

  async begin(state: RunState, t: BeginTry): Promise<void> {
    const { env, run } = this;
    const first = this.fresh;
    this.fresh = false;
    const afterSleep = this.afterEndedSleep;
    this.afterEndedSleep = false;
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
    // nothing runs twice. A crash before that COMMIT rolls its effect back with the record of it. Such a
    // try starts even before the run's row is committed (`ready`): its COMMIT waits for that row, and finds
    // it leased to this engine (or rolls back: commit_try's lease check). Any other try waits for the row.
    // So is the first try after a sleep the waker ended: the saved state still has the sleep running, and
    // a crash before that COMMIT resumes the run at the sleep, which ends at once with the end stored
    // (runner.ts committedOutput), and then this try again (a wait_for's or a call's end is not stored
    // until the run's next save: those wait for the begin save).
    // Such a held save is built only when needed, once the try's statement is on its way: commitTry needs
    // only its row's input, and only a park or a cancellation the whole save (its snapshot). The state and
    // the input are not changed after this (the moves of state.ts make new states; a step reads its input).
    const transactional = env.deps.stepKinds[t.kind]?.transactional === true;
    if (
      (first || afterSleep) &&
      transactional &&
      this.carry === undefined &&
      intentsOf(t.kind, t.input).length === 0
    ) {
      this.held = this.lazyHeld(state, t, env.clock.now());
      return;
    }
    const { begin, intents } = this.beginning(t);
    const item = this.withCarry(beginItem(this.target, state, begin));
    if (intents.length > 0) item.writes = { depth: run.depth, list: intents };
    await this.created();
    const holdable = !transactional && !CONTAINER_KINDS.includes(t.kind);
    if (first && intents.length === 0 && holdable) {
      const h = heldOf(item, env.clock.now());
      h.timer = env.clock.setTimeout(() => {
        if (this.held !== h) return;
        this.held = undefined;
        const ok = this.sent(item);
        ok.catch(this.stopEarly);
        this.beginning$ = ok;
      }, BEGIN_HOLD_MS);
      this.held = h;
      return;
    }
    await this.sent(item);
  }

  /** The held begin save of try `t` as it begins with `state` (see `begin`), built on demand. */
  private lazyHeld(state: RunState, t: BeginTry, startedAt: number): Held {
    let row: TryRow | undefined;
    let item: SaveItem | undefined;
    return {
      item: () => {
        if (!item) {
          const built = beginItem(this.target, state, this.beginning(t).begin);
          // The row already handed out stays the one: the same input text either way.
          if (row) built.tries[0] = row;
          item = built;
        }
        return item;
      },
      row: () => {
        row ??= item ? item.tries[0]! : beginRow(state, this.beginning(t).begin);
        return row;
      },
      startedAt,
      timer: undefined,
    };
  }

  withHeld(item: SaveItem): SaveItem {
    const h = this.held;
    if (!h) return item;
    this.held = undefined;
    if (h.timer !== undefined) this.env.clock.clearTimeout(h.timer);
    const row = h.row();
    const startedAgoMs = Math.max(0, this.env.clock.now() - h.startedAt);
    const i = item.tries.findIndex(
      (r) => r.stepKey === row.stepKey && r.attempt === row.attempt && r.runAttempt === row.runAttempt,
    );
    const tries = [...item.tries];
    if (i >= 0) tries[i] = { ...tries[i]!, input: row.input, startedAgoMs };
    else tries.unshift({ ...row, startedAgoMs });
    return { ...item, tries };
  }

  innerWaitsBegun(): boolean {
    return this.innerBegun;
  }

  dispose(): void {
    if (this.held?.timer !== undefined) this.env.clock.clearTimeout(this.held.timer);
    this.held = undefined;
  }

  async save(
    state: RunState,
    opts: { result?: TryResult; parkMs?: number; next?: BeginTry; committed?: boolean },
  ): Promise<void> {
    const { env, run } = this;
    await this.landed();
    if (this.cancelled()) throw new Error(`run ${run.id}: cancelled; save dropped`);
    // A folded begin adds the next try's intents to the ended try's exact writes (see batch.ts).
    const next = opts.next ? this.beginning(opts.next) : undefined;
    const list = next ? [...this.writes, ...next.intents] : this.writes;
    const item = this.withCarry(
      stateItem(this.target, redactErrors(state, env.secrets), {
        result: opts.result && redactErrors(opts.result, env.secrets),
        resultSaved: opts.committed,
        parkMs: opts.parkMs,
        next: next?.begin,
        writes: { depth: run.depth, list },
      }),
    );
    this.writes = [];
    if (!(await this.saved(this.withHeld(item)))) throw new LeaseLostError(run.id);
    if (opts.result) reportTry(env, this.def, run.id, opts.result);
  }

  async commitTry(
    client: import("pg").PoolClient | SharedCommit,
    runAttempt: number,
    r: TryResult,
    after?: RunState,
  ): Promise<boolean | undefined> {
    const { env, run } = this;
    // Either the save that began this try has landed, so a resumed run finds this record from its saved
    // state, or that begin is held (a new run's first try: see `begin`) and this COMMIT writes the try's
    // row and the state after it. When the try ends the run, its end commits here too: no save follows.
    // Nothing here may wait for a pooled connection: the step holds one, and all of them could be held so.
    // The wait for the run's row does not: that COMMIT is sent already, on a connection of its own.
    try {
      await this.created();
    } catch (err) {
      throw new SaveFailed(err);
    }
    if (this.cancelled()) throw new Error(`run ${run.id}: cancelled; not committed`);
    const h = this.held;
    const row = h?.row();
    if (
      h &&
      !(row && row.stepKey === r.stepKey && row.attempt === r.attempt && row.runAttempt === runAttempt)
    )
      throw new Error(`run ${run.id}: a begin save held for another try`);
    // Only when no save is due for anything else: a resumed parked step's end, writes of earlier tries.
    const ends = after !== undefined && isTerminal(after.status) && !this.carry && this.writes.length === 0;
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
      // Nothing committed, and the step runs alone next (its held begin, if any, is still to write).
      if (err instanceof GroupRolledBack) throw err;
      const code = (err as { code?: unknown }).code;
      if (code === LEASE_LOST_SQLSTATE) throw new SaveFailed(new LeaseLostError(run.id));
      // An error the server answered with rolled the transaction back; without an answer (the connection
      // lost) the COMMIT may have landed: give the run up, and its resume reads what committed.
      if (!answered(err)) throw new SaveFailed(err);
      throw err;
    }
    // The held begin is written: a save from here on must not write it again.
    if (h && this.held === h) this.held = undefined;
    if (!ends) return false;
    reportTry(env, this.def, run.id, r);
    return true;
  }

  async saveTree(state: RunState, rows: TreeRows): Promise<void> {
    const { env, run } = this;
    await this.landed();
    if (this.cancelled()) throw new SaveFailed(new Error(`run ${run.id}: cancelled; save dropped`));
    const begun = rows.begins.map((b) => this.beginning(b));
    const list = [...this.writes, ...begun.flatMap((b) => b.intents)];
    this.writes = [];
    const item = treeItem(
      this.target,
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
      ok = await this.saved(this.withHeld(item));
    } catch (err) {
      throw new SaveFailed(err);
    }
    if (!ok) throw new SaveFailed(new LeaseLostError(run.id));
    for (const r of rows.results) reportTry(env, this.def, run.id, r);
  }

  /** Waits of inner steps (tree.ts): made when a container first needs them. */
  get inner(): InnerIO {
    if (this.innerIO) return this.innerIO;
    const { env, run, def } = this;
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
    this.innerIO = {
      begin: (st) => {
        if (st.req.kind === "wait_for") this.innerBegun = true;
        return beginInner(inner, st);
      },
      check: (w) => checkInner(inner, w),
      park: async (state, waits) => {
        await this.landed();
        await this.settled();
        if (this.cancelled()) throw new Error(`run ${run.id}: cancelled; not parked`);
        return parkInside(inner, redactErrors(state, env.secrets), waits);
      },
      drop: () => dropInnerWaits(env.pool, run.id),
    };
    return this.innerIO;
  }

  committed(runAttempt: number, stepKey: string, attempt: number): Promise<{ output: unknown } | undefined> {
    return committedOutput(this.env.pool, this.run.id, runAttempt, stepKey, attempt);
  }

  async afterTry(step: StepDefinition, output: unknown): Promise<unknown> {
    // Appended: the inner steps of a container may end several tries before one save takes them.
    this.writes = [...this.writes, ...writesOf(step.kind, output)];
    return storable(redact(output, this.env.secrets));
  }

  async park(
    c: RunInput & { attempt: number },
    step: StepDefinition,
    req: ParkRequest,
  ): Promise<{ parked: true; parkMs: number } | { parked: false; output: unknown }> {
    const { env, run, def } = this;
    // The try's begin must be stored before the park (it dates the wait): flush one held back.
    await this.landed();
    const h = this.held;
    if (h) {
      this.held = undefined;
      env.clock.clearTimeout(h.timer);
      await this.sent(h.item());
    }
    await this.settled();
    if (this.cancelled()) throw new Error(`run ${run.id}: cancelled; not parked`);
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
  }
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

/** An error the server sent, other than a connection failure or a shutdown. */
function answered(err: unknown): boolean {
  return isPgError(err) && !err.code.startsWith("08") && !err.code.startsWith("57P");
}
