// The transitions of a flat xstate machine (one level of atomic and final states under the root, as the run
// machine of machine.ts is) computed directly, with xstate's own semantics (the SCXML microstep and
// macrostep of xstate 5: exit, transition actions, entry; eventless transitions until none is enabled; the
// internal queue), read from the machine's normalized state nodes, so the machine stays the one source of
// truth. No I/O. Why: xstate's general algorithm builds sets, maps and a full snapshot on every microstep,
// about 60 KB of garbage per one-step run (half of the daemon's allocations on the publish path). A machine
// that uses anything this does not cover (nested or parallel states, history, invoke, wildcards, higher-order
// guards, builtin actions other than assign, raise and cancel, a machine output) is not compiled, and
// drive.ts uses xstate itself. test/engine/flat-machine.test.ts runs the same events through both.
import type { AnyActorScope, AnyStateMachine, EventObject } from "xstate";

/** The snapshot of a flat machine: the fields of xstate's that the driver and runner read. */
export interface FlatSnapshot {
  value: string;
  // biome-ignore lint/suspicious/noExplicitAny: a machine's context, as xstate's AnyMachineSnapshot has it
  context: any;
  status: "active" | "done" | "error" | "stopped";
  error?: unknown;
  output?: undefined;
}

/** An action for the driver to execute, as xstate hands it to an actor scope's executor. */
export interface FlatAction {
  type: string;
  params?: unknown;
  info?: unknown;
  exec?: (info: unknown, params: unknown) => void;
}

export interface FlatLogic {
  /** xstate's getInitialSnapshot; actions go to `emit` as they resolve. */
  initial(input: unknown, emit: (a: FlatAction) => void): FlatSnapshot;
  /** xstate's transition: the same snapshot object back when nothing was enabled. */
  transition(snap: FlatSnapshot, event: EventObject, emit: (a: FlatAction) => void): FlatSnapshot;
}

type Fn = (...args: unknown[]) => unknown;
type Params = { has: false } | { has: true; value: unknown };
type Action =
  | { k: "assign"; assignment: unknown; params: Params }
  | { k: "raise"; event: unknown; id: unknown; delay: unknown; params: Params }
  | { k: "cancel"; sendId: unknown; params: Params }
  | { k: "exec"; type: string; exec: Fn | undefined; params: Params };
interface Guard {
  fn: Fn;
  params: Params;
  /** How xstate names it in a guard error (undefined: inline). */
  label: string | undefined;
}
interface Transition {
  guard: Guard | undefined;
  /** The target state's index, or -1 for a targetless transition. */
  target: number;
  /** From the root (`on` of the machine itself), not from the current state. */
  fromRoot: boolean;
  reenter: boolean;
  actions: Action[];
}
interface State {
  key: string;
  final: boolean;
  entry: Action[];
  exit: Action[];
  on: Map<string, Transition[]>;
  always: Transition[];
  /** xstate's id of the state node, for guard errors. */
  id: string;
}

// biome-ignore lint/suspicious/noExplicitAny: xstate's state nodes and actions, read by their runtime shape
type Node = any;

class Unsupported extends Error {}

const NO_PARAMS: Params = { has: false };

/** The flat logic of `machine`, or undefined when it is not flat as defined above (drive.ts then uses xstate). */
export function compileFlat(machine: AnyStateMachine, scope: AnyActorScope): FlatLogic | undefined {
  try {
    return compile(machine, scope);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

function compile(machine: AnyStateMachine, scope: AnyActorScope): FlatLogic {
  const root: Node = machine.root;
  const impl = machine.implementations as { actions: Record<string, Node>; guards: Record<string, Node> };
  const delays = (machine.implementations as { delays?: Record<string, unknown> }).delays ?? {};
  const need = (ok: unknown) => {
    if (!ok) throw new Unsupported();
  };
  need(root.type === "compound" && root.output === undefined && root.always === undefined);
  need(root.invoke.length === 0 && root.entry.length === 0 && root.exit.length === 0);
  need(root.initial.actions.length === 0 && root.initial.target.length === 1);
  const nodes: Node[] = Object.values(root.states);
  const index = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  for (const n of nodes) {
    need(n.type === "atomic" || n.type === "final");
    need(n.invoke.length === 0 && n.initial.actions.length === 0 && n.output === undefined);
  }
  // Document order is the order of `states`: the one entered on a transition is the target alone.
  const params = (a: Node): Params =>
    typeof a === "object" && a !== null && "params" in a ? { has: true, value: a.params } : NO_PARAMS;
  const action = (a: Node): Action => {
    const inline = typeof a === "function";
    const type: string = inline ? undefined : typeof a === "string" ? a : a.type;
    const fn: Node = inline ? a : impl.actions[type];
    const p = inline || typeof a === "string" ? NO_PARAMS : params(a);
    if (!fn || !("resolve" in fn))
      return { k: "exec", type: inline ? a.name || "(anonymous)" : type, exec: fn, params: p };
    need(!("retryResolve" in fn));
    if (fn.type === "xstate.assign") return { k: "assign", assignment: fn.assignment, params: p };
    if (fn.type === "xstate.raise")
      return { k: "raise", event: fn.event, id: fn.id, delay: fn.delay, params: p };
    if (fn.type === "xstate.cancel") return { k: "cancel", sendId: fn.sendId, params: p };
    throw new Unsupported();
  };
  const guard = (g: Node): Guard | undefined => {
    if (g === undefined) return undefined;
    const inline = typeof g === "function";
    const name: string | undefined = inline ? undefined : typeof g === "string" ? g : g.type;
    const fn: Node = inline ? g : impl.guards[name!];
    need(typeof fn === "function" && !("check" in fn));
    return { fn, params: inline || typeof g === "string" ? NO_PARAMS : params(g), label: name };
  };
  const transition = (t: Node, fromRoot: boolean): Transition => {
    need(t.target === undefined || (t.target.length === 1 && index.has(t.target[0])));
    // A reentering transition of the root itself would exit and enter the root.
    need(!(fromRoot && t.reenter));
    return {
      guard: guard(t.guard),
      target: t.target === undefined ? -1 : index.get(t.target[0])!,
      fromRoot,
      reenter: t.reenter === true,
      actions: t.actions.map(action),
    };
  };
  const on = (n: Node, fromRoot: boolean) => {
    const m = new Map<string, Transition[]>();
    for (const [type, ts] of n.transitions as Map<string, Node[]>) {
      need(type !== "*" && !type.endsWith(".*"));
      m.set(
        type,
        ts.map((t) => transition(t, fromRoot)),
      );
    }
    return m;
  };
  const rootOn = on(root, true);
  const states: State[] = nodes.map((n) => ({
    key: n.key,
    id: n.id,
    final: n.type === "final",
    entry: n.entry.map(action),
    exit: n.exit.map(action),
    on: on(n, false),
    always: (n.always ?? []).map((t: Node) => transition(t, false)),
  }));
  const initial = index.get(root.initial.target[0])!;
  return interpreter(machine, scope, states, rootOn, initial, delays);
}

/** Runs compiled states with xstate's microstep/macrostep semantics (see the header). */
function interpreter(
  machine: AnyStateMachine,
  scope: AnyActorScope,
  states: State[],
  rootOn: Map<string, Transition[]>,
  initial: number,
  delays: Record<string, unknown>,
): FlatLogic {
  const self = scope.self;
  const system = scope.system;
  const rootId: string = (machine.root as Node).id;
  const byKey = new Map(states.map((s, i) => [s.key, i]));
  const maxIterations: number = (machine as Node).options?.maxIterations ?? Number.POSITIVE_INFINITY;
  const spawn = () => {
    throw new Error("drive.ts does not spawn actors");
  };
  // The snapshot as a macrostep changes it. `version` counts changes: xstate makes a new snapshot object
  // when an assign runs, the state changes or the machine ends, and hands back the very same one otherwise
  // (drive.ts and the eventless loop below tell a move by that).
  interface Work {
    at: number;
    context: unknown;
    status: FlatSnapshot["status"];
    version: number;
    queue: EventObject[];
    emit: (a: FlatAction) => void;
  }
  const paramsOf = (p: Params, w: Work, event: EventObject) =>
    !p.has
      ? undefined
      : typeof p.value === "function"
        ? (p.value as Fn)({ context: w.context, event })
        : p.value;

  /** xstate's resolveAndExecuteActionsWithContext, for the actions compile() accepts. */
  const run = (actions: Action[], w: Work, event: EventObject) => {
    for (const a of actions) {
      const params = paramsOf(a.params, w, event);
      if (a.k === "assign") {
        assign(a.assignment, w, event, params);
        continue;
      }
      // The action's arguments, as xstate hands them to it (an assign makes its own).
      const info = { context: w.context, event, self, system };
      if (a.k === "exec") w.emit({ type: a.type, info, params, exec: a.exec as FlatAction["exec"] });
      else if (a.k === "raise") raise(a, w, info, params);
      else {
        const sendId = typeof a.sendId === "function" ? a.sendId(info, params) : a.sendId;
        w.emit({ type: "xstate.cancel", info, params: { sendId } });
      }
    }
  };
  const assign = (assignment: unknown, w: Work, event: EventObject, params: unknown) => {
    const args = { context: w.context, event, spawn, self, system };
    let update: Record<string, unknown> = {};
    if (typeof assignment === "function") update = assignment(args, params);
    else
      for (const key of Object.keys(assignment as object)) {
        const f = (assignment as Record<string, unknown>)[key];
        update[key] = typeof f === "function" ? f(args, params) : f;
      }
    w.context = Object.assign({}, w.context, update);
    w.version++;
  };
  const raise = (a: Action & { k: "raise" }, w: Work, info: unknown, params: unknown) => {
    if (typeof a.event === "string")
      throw new Error(`Only event objects may be used with raise; use raise({ type: "${a.event}" }) instead`);
    const ev = (typeof a.event === "function" ? a.event(info, params) : a.event) as EventObject;
    let delay: unknown;
    if (typeof a.delay === "string") {
      const d = delays[a.delay];
      delay = typeof d === "function" ? d(info, params) : d;
    } else delay = typeof a.delay === "function" ? a.delay(info, params) : a.delay;
    if (typeof delay !== "number") w.queue.push(ev);
    w.emit({ type: "xstate.raise", info, params: { event: ev, id: a.id, delay } });
  };
  const enabled = (g: Guard | undefined, w: Work, event: EventObject) =>
    !g || Boolean(g.fn({ context: w.context, event }, paramsOf(g.params, w, event)));

  /** xstate's StateNode.next: the first enabled transition of the state, else of the root. */
  const pick = (list: Transition[] | undefined, id: string, w: Work, event: EventObject) => {
    if (!list) return undefined;
    for (const t of list) {
      let ok: boolean;
      try {
        ok = enabled(t.guard, w, event);
      } catch (err) {
        const label = t.guard?.label;
        throw new Error(
          `Unable to evaluate guard ${label ? `'${label}' ` : ""}in transition for event '${event.type}' in state node '${id}':\n${(err as Error).message}`,
        );
      }
      if (ok) return t;
    }
    return undefined;
  };
  const select = (w: Work, event: EventObject): Transition | undefined => {
    const s = states[w.at]!;
    return pick(s.on.get(event.type), s.id, w, event) ?? pick(rootOn.get(event.type), rootId, w, event);
  };
  const selectAlways = (w: Work, event: EventObject): Transition | undefined => {
    for (const t of states[w.at]!.always) if (enabled(t.guard, w, event)) return t;
    return undefined;
  };
  /** xstate's microstep for one transition: exit, its actions, entry (a final state then exits too). */
  const microstep = (t: Transition, w: Work, event: EventObject) => {
    const from = w.at;
    const moves = t.target >= 0 && (t.fromRoot || t.reenter || t.target !== from);
    if (moves) run(states[from]!.exit, w, event);
    run(t.actions, w, event);
    if (moves) enter(t.target, w, event);
    if (w.at !== from) w.version++;
  };
  const enter = (to: number, w: Work, event: EventObject) => {
    w.at = to;
    const s = states[to]!;
    run(s.entry, w, event);
    if (s.final) {
      w.status = "done";
      w.version++;
      run(s.exit, w, event);
    }
  };
  /** xstate's macrostep after its first microstep: eventless transitions, then the internal queue. */
  const settle = (w: Work, first: EventObject) => {
    let event = first;
    let eventless = true;
    let iterations = 0;
    while (w.status === "active") {
      if (++iterations > maxIterations)
        throw new Error(
          `Infinite loop detected: the machine has processed more than ${maxIterations} microsteps without reaching a stable state. This usually happens when there's a cycle of transitions (e.g., eventless transitions or raised events causing state A -> B -> C -> A).`,
        );
      let t: Transition | undefined = eventless ? selectAlways(w, event) : undefined;
      const fromAlways: boolean = t !== undefined;
      if (!t) {
        const next = w.queue.shift();
        if (!next) break;
        event = next;
        t = select(w, event);
      }
      const v = w.version;
      if (t) microstep(t, w, event);
      // After an eventless transition that changed nothing, xstate looks no further for eventless ones.
      eventless = !fromAlways || w.version !== v;
    }
  };
  const snapshot = (w: Work): FlatSnapshot => ({
    value: states[w.at]!.key,
    context: w.context,
    status: w.status,
    error: undefined,
    output: undefined,
  });

  return {
    initial(input, emit) {
      const event = { type: "xstate.init", input };
      const config = (machine as unknown as { config: { context?: unknown } }).config.context;
      const w: Work = { at: -1, context: {}, status: "active", version: 0, queue: [], emit };
      let pre: unknown = w.context;
      try {
        if (typeof config === "function") w.context = Object.assign({}, config({ spawn, input, self }));
        else if (config) w.context = config;
        pre = w.context;
        enter(initial, w, event);
        settle(w, event);
      } catch (error) {
        return { value: "", context: pre, status: "error", error };
      }
      return snapshot(w);
    },
    transition(snap, event, emit) {
      if (event.type === "xstate.stop") return { ...snap, status: "stopped" };
      const at = byKey.get(snap.value);
      if (at === undefined) throw new Error(`State '${snap.value}' does not exist on '${rootId}'`);
      const w: Work = { at, context: snap.context, status: snap.status, version: 0, queue: [], emit };
      const t = select(w, event);
      if (!t && event.type.startsWith("xstate.error.actor"))
        return { ...snap, status: "error", error: (event as { error?: unknown }).error };
      if (t) microstep(t, w, event);
      settle(w, event);
      return w.version === 0 ? snap : snapshot(w);
    },
  };
}
