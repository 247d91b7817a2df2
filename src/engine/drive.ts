// Drives one run's xstate machine (machine.ts) without an xstate actor: the machine's own transition
// function computes each next snapshot and the actions to execute, and this module executes them: an
// effect action (begin a try, run it, save) calls that effect and sends its outcome back as an event; a
// delayed raise (a step's timeout, a retry's wait) is a timer on the engine's clock; a cancel clears one.
// The machine stays the one source of truth for what happens next; this module only carries out what it
// says, one event at a time.
//
// The xstate snapshot and the stored RunState: the snapshot (its state value: choose, starting, running,
// ...; and its context) lives in memory only, for as long as the run executes here. `context.state` is the
// RunState, which every save stores (runs.snapshot); the snapshot itself is never stored, and a resumed run
// starts a new snapshot from the stored RunState alone (see machine.ts).
//
// Why not xstate's createActor: an actor per run, and one more per invoked try or save, cost about 40% of
// the run's JavaScript allocations (bench/peers.ts backlog, sampled); `transition()` from xstate builds an
// inert actor on every call, which costs more still. Here one inert actor scope per process serves every
// transition of every run (the machine's actions are collected, never executed by xstate). And a flat
// machine (the run machine is one) has its transitions computed by flat-machine.ts, with xstate's semantics
// and without its general algorithm's sets, maps and snapshots (about 60 KB per one-step run).
import { type AnyActorScope, type AnyStateMachine, createActor, setup } from "xstate";
import type { Clock } from "./clock.js";
import { compileFlat, type FlatLogic } from "./flat-machine.js";

/** What the driver and its caller read of a snapshot (xstate's, or flat-machine.ts's). */
export interface Snapshot {
  value: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: a machine's context, as xstate's AnyMachineSnapshot has it
  context: any;
  status: string;
  error?: unknown;
}

/**
 * An effect of the machine: its action's params in, its outcome out (sent as `<type>.done` / `.error`). An
 * effect that declares a second parameter gets an AbortSignal, aborted when its state is left before it
 * settles; the others get none (an AbortController is about 1 KB, and only a try needs one).
 */
export type Effect = (params: never, signal: AbortSignal) => Promise<unknown>;

export interface Driven {
  /** Sends an event (ignored once the run has ended or was stopped). */
  send(event: { type: string }): void;
  /** Stops the run where it is: its timers cleared, an effect still running aborted; no event follows. */
  stop(): void;
  /** The latest snapshot. */
  snapshot(): Snapshot;
}

export interface ExecAction {
  type: string;
  params?: unknown;
  info?: unknown;
  exec?: (info: unknown, params: unknown) => void;
}

let scope: AnyActorScope | undefined;
let collected: ExecAction[] = [];
const collect = (a: ExecAction) => {
  collected.push(a);
};
/** Each machine's flat logic, or null when it is not flat (xstate then computes its transitions). */
const flats = new WeakMap<AnyStateMachine, FlatLogic | null>();

function flatOf(machine: AnyStateMachine): FlatLogic | undefined {
  let f = flats.get(machine);
  if (f === undefined) {
    f = compileFlat(machine, inertScope()) ?? null;
    flats.set(machine, f);
  }
  return f ?? undefined;
}

/** Compiles `machine`'s flat logic now, ahead of its first drive (see runner.ts prepareRuns). */
export function prepareDrive(machine: AnyStateMachine): void {
  flatOf(machine);
}

/**
 * The actor scope of every transition: an inert `self` (the machine's guards and actions never use it),
 * and an action executor that collects the actions for the driver instead of executing them.
 */
function inertScope(): AnyActorScope {
  scope ??= actorScopeWith(collect);
  return scope;
}

/** An inert actor scope as drive uses, whose executor is `executor` (also for tests comparing transitions). */
export function actorScopeWith(executor: (a: ExecAction) => void): AnyActorScope {
  const self = createActor(setup({}).createMachine({}));
  return {
    self,
    id: "",
    sessionId: "",
    system: self.system,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: executor,
  } as unknown as AnyActorScope;
}

/**
 * Starts `machine` with `input`. `onEnd` is called once, with the final snapshot, when the machine reaches a
 * final state, or with an error when a transition throws (the run's machine is then broken). `opts.xstate`:
 * xstate computes the transitions even of a flat machine (tests compare the two).
 */
export function drive(
  machine: AnyStateMachine,
  effects: Record<string, Effect>,
  input: unknown,
  clock: Clock,
  onEnd: (end: { snapshot: Snapshot } | { error: unknown }) => void,
  opts?: { xstate?: boolean },
): Driven {
  return new Driver(machine, opts?.xstate ? undefined : flatOf(machine), effects, input, clock, onEnd);
}

/** `<effect>.done` and `<effect>.error`, made once per effect name. */
const outcomeTypes = new Map<string, { done: string; error: string }>();
function outcomeType(effect: string) {
  let t = outcomeTypes.get(effect);
  if (!t) {
    t = { done: `${effect}.done`, error: `${effect}.error` };
    outcomeTypes.set(effect, t);
  }
  return t;
}

/** One run's machine being driven: a class, so that a run costs one object here and not a dozen closures. */
class Driver implements Driven {
  private snap!: Snapshot;
  private ended = false;
  private timers: Map<string, unknown> | undefined;
  // The one effect in flight (the machine runs one at a time): aborted when its state is left before it
  // settles; its outcome is sent only while it is the current one.
  private current: { ac: AbortController | undefined; settled: boolean } | undefined;
  // Events sent while a transition is being handled wait their turn (none do today: effects settle later).
  private busy = false;
  private queue: { type: string }[] | undefined;

  constructor(
    private readonly machine: AnyStateMachine,
    private readonly flat: FlatLogic | undefined,
    private readonly effects: Record<string, Effect>,
    private readonly input: unknown,
    private readonly clock: Clock,
    private readonly onEnd: (end: { snapshot: Snapshot } | { error: unknown }) => void,
  ) {
    this.busy = true;
    try {
      this.apply(undefined, false);
    } finally {
      this.busy = false;
    }
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  stop(): void {
    if (!this.ended) this.finish();
  }

  send(event: { type: string }): void {
    if (this.ended) return;
    if (this.busy) {
      this.queue ??= [];
      this.queue.push(event);
      return;
    }
    this.busy = true;
    try {
      let e: { type: string } | undefined = event;
      while (e && !this.ended) {
        const own = this.current !== undefined && (e.type.endsWith(".done") || e.type.endsWith(".error"));
        this.apply(e, own);
        e = this.queue?.shift();
      }
    } finally {
      this.busy = false;
      if (this.queue) this.queue.length = 0;
    }
  }

  private finish(): void {
    this.ended = true;
    if (this.timers) {
      for (const t of this.timers.values()) this.clock.clearTimeout(t);
      this.timers.clear();
    }
    if (this.current && !this.current.settled) this.current.ac?.abort();
    this.current = undefined;
  }

  /** The snapshot after `event` (undefined: the initial one); its actions are collected. */
  private step(event: { type: string } | undefined): Snapshot {
    const { flat, machine } = this;
    if (flat)
      return event ? flat.transition(this.snap as never, event, collect) : flat.initial(this.input, collect);
    const sc = inertScope();
    return event
      ? (machine.transition(this.snap as never, event, sc) as Snapshot)
      : (machine.getInitialSnapshot(sc, this.input) as Snapshot);
  }

  /** Applies `event` (a transition), then executes its actions; ends the run on a final state or a throw. */
  private apply(event: { type: string } | undefined, own: boolean): void {
    collected = [];
    let next: Snapshot;
    try {
      next = this.step(event);
    } catch (error) {
      collected = [];
      this.finish();
      this.onEnd({ error });
      return;
    }
    const actions = collected;
    collected = [];
    // An event other than the effect's own outcome (a timeout, a cancel) that moved the machine left the
    // effect's state: the effect is stopped, as xstate stops an invoked actor.
    const current = this.current;
    if (next !== this.snap && current && !own && !current.settled) {
      current.ac?.abort();
      this.current = undefined;
    }
    if (own) this.current = undefined;
    this.snap = next;
    try {
      for (const a of actions) this.exec(a);
    } catch (error) {
      this.finish();
      this.onEnd({ error });
      return;
    }
    if (next.status === "error") {
      this.finish();
      this.onEnd({ error: next.error });
    } else if (next.status === "done") {
      this.finish();
      this.onEnd({ snapshot: next });
    }
  }

  private exec(a: ExecAction): void {
    if (a.type === "xstate.raise") {
      const p = a.params as { event: { type: string }; id?: string; delay?: number };
      if (p.delay === undefined) return;
      const id = p.id ?? p.event.type;
      if (this.timers === undefined) this.timers = new Map();
      const timers = this.timers;
      const prev = timers.get(id);
      if (prev !== undefined) this.clock.clearTimeout(prev);
      timers.set(
        id,
        this.clock.setTimeout(() => {
          timers.delete(id);
          this.send(p.event);
        }, p.delay),
      );
    } else if (a.type === "xstate.cancel") {
      const id = (a.params as { sendId: string }).sendId;
      const t = this.timers?.get(id);
      if (t !== undefined) this.clock.clearTimeout(t);
      this.timers?.delete(id);
    } else if (!this.effects[a.type]) {
      // Any other action of the machine runs as an actor would run it; xstate's own actions that need an
      // actor system (sendTo, spawnChild, ...) are not supported here: the run's machine has none.
      if (a.type.startsWith("xstate.")) throw new Error(`drive.ts does not execute ${a.type}`);
      a.exec?.(a.info, a.params);
    } else {
      const effect = this.effects[a.type]!;
      const types = outcomeType(a.type);
      const me = { ac: effect.length > 1 ? new AbortController() : undefined, settled: false };
      this.current = me;
      effect(a.params as never, me.ac?.signal as AbortSignal).then(
        (output) => {
          me.settled = true;
          if (this.current === me) this.send({ type: types.done, output } as { type: string });
        },
        (error: unknown) => {
          me.settled = true;
          if (this.current === me) this.send({ type: types.error, error } as { type: string });
        },
      );
    }
  }
}
