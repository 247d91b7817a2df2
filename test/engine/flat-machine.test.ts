import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AnyActorScope, type AnyStateMachine, assign, not, raise, setup } from "xstate";

/** A machine of any config, typed loosely: these only need to be built. */
// biome-ignore lint/suspicious/noExplicitAny: configs of every shape
const createMachine = (config: any, guards?: any): AnyStateMachine =>
  setup(guards ?? {}).createMachine(config) as never;

import type { StepDefinition, WorkflowDefinition } from "../../src/engine/definition/types.js";
import { actorScopeWith } from "../../src/engine/drive.js";
import { compileFlat, type FlatAction } from "../../src/engine/flat-machine.js";
import { buildRunMachine, LeaseLostError, type MachineDeps, SaveFailed } from "../../src/engine/machine.js";
import { newRunState, type RunState } from "../../src/engine/state.js";
import { ContainerFailed } from "../../src/engine/tree.js";
import { RetryableStepError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { fuzzParams } from "../helpers/fuzz.js";

/** drive.ts's inert actor scope, whose executor collects the actions into `into`. */
const scopeOf = (into: { type: string; params?: unknown }[]): AnyActorScope =>
  actorScopeWith((a) => into.push(a as FlatAction));

type Ev = { type: string; [k: string]: unknown };
// biome-ignore lint/suspicious/noExplicitAny: snapshots of either side
type Snap = any;

/** What must match after each step: the state, status, context, the actions in order, and whether it moved. */
const view = (s: Snap, actions: { type: string; params?: unknown }[], same: boolean) => ({
  value: s.status === "error" ? undefined : s.value,
  status: s.status,
  error: s.status === "error" ? String(s.error) : undefined,
  context: s.context,
  actions: actions.map((a) => ({ type: a.type, params: a.params })),
  same,
});

const outcome = (f: () => Snap): { snap: Snap } | { threw: string } => {
  try {
    return { snap: f() };
  } catch (err) {
    return { threw: String(err) };
  }
};

/**
 * Runs `events` through xstate and through the flat logic of two machines built alike (two, so that
 * side effects of guards and assigns, such as a counting clock, stay apart), comparing after every step.
 */
function compare(
  machines: [AnyStateMachine, AnyStateMachine],
  input: unknown,
  events: Ev[],
): number | string {
  const xa: FlatAction[] = [];
  const fa: FlatAction[] = [];
  const xScope = scopeOf(xa);
  const flat = compileFlat(machines[1], scopeOf([]));
  expect(flat).toBeDefined();
  const x0 = outcome(() => machines[0].getInitialSnapshot(xScope, input));
  const f0 = outcome(() => flat!.initial(input, (a) => fa.push(a)));
  if ("threw" in x0 || "threw" in f0) {
    expect(f0).toEqual(x0);
    return "threw" in x0 ? x0.threw : 0;
  }
  let xs = x0.snap;
  let fs = f0.snap;
  expect(view(fs, fa, false)).toEqual(view(xs, xa, false));
  let steps = 0;
  for (const e of events) {
    if (xs.status !== "active") break;
    xa.length = 0;
    fa.length = 0;
    const x = outcome(() => machines[0].transition(xs, e, xScope));
    const f = outcome(() => flat!.transition(fs, e as never, (a) => fa.push(a)));
    if ("threw" in x || "threw" in f) {
      expect(f).toEqual(x);
      return "threw" in x ? x.threw : steps;
    }
    expect(view(f.snap, fa, f.snap === fs)).toEqual(view(x.snap, xa, x.snap === xs));
    xs = x.snap;
    fs = f.snap;
    steps++;
  }
  return steps;
}

// ------------------------------------------------------------------------------------------------------
// The run machine of machine.ts

function step(key: string, attempts: number): StepDefinition {
  return {
    id: key,
    key,
    name: "publish",
    kind: "publish",
    input: {},
    retry: { attempts, backoff: "fixed", delayMs: 100, maxDelayMs: 100, jitter: false },
    timeoutMs: 1000,
    continueOnError: false,
    line: 1,
    column: 1,
  };
}

const def: WorkflowDefinition = {
  name: "flat",
  file: "flat.yaml",
  enabled: true,
  version: "v1",
  source: "",
  triggers: [],
  steps: [step("a", 2), step("b", 1)],
  onFailure: [step("f", 1)],
};

/** Deps whose clock counts its calls: both sides must read it as often, in the same order. */
function deps(): MachineDeps {
  let t = 1_000;
  return {
    stepKinds: {},
    clients: {} as MachineDeps["clients"],
    log: silentLogger(),
    env: {},
    now: () => t++,
    random: () => 0.5,
    parkAfterMs: 150,
    resolve: (x) => x,
  };
}

const running = (index: number, attempts: number, phase: RunState["phase"] = "main"): RunState => {
  const s = newRunState("2026-01-01T00:00:00.000Z");
  const key = phase === "main" ? def.steps[index]?.key : def.onFailure[index]?.key;
  return { ...s, phase, index, steps: key ? { [key]: { status: "running", attempts } } : {} };
};
const states: RunState[] = [
  running(0, 1),
  running(0, 2),
  running(1, 1),
  running(0, 1, "on_failure"),
  { ...newRunState("2026-01-01T00:00:00.000Z"), status: "succeeded", index: 2 },
  { ...newRunState("2026-01-01T00:00:00.000Z"), status: "failed" },
];
const planned = fc.record({
  state: fc.constantFrom(...states),
  begun: fc.option(
    fc.record({
      stepKey: fc.constantFrom("a", "b"),
      kind: fc.constant("publish"),
      attempt: fc.nat(3),
      input: fc.anything(),
    }),
    { nil: undefined },
  ),
  parkedMs: fc.option(fc.nat(5000), { nil: undefined }),
  evalMs: fc.option(fc.nat(50), { nil: undefined }),
});
const failure = fc.oneof(
  fc.constant(new Error("boom")),
  fc.constant(new RetryableStepError("Flaky", "try again")),
  fc.constant(new SaveFailed(new Error("disk"))),
  fc.constant(new LeaseLostError("r1")),
  fc.constantFrom(...states).map((s) => new ContainerFailed({ name: "Inner", message: "inner failed" }, s)),
);
const runEvent: fc.Arbitrary<Ev> = fc.oneof(
  planned.map((output) => ({ type: "beginTry.done", output })),
  failure.map((error) => ({ type: "beginTry.error", error })),
  planned.map((output) => ({ type: "runTry.done", output })),
  failure.map((error) => ({ type: "runTry.error", error })),
  fc.option(planned, { nil: undefined }).map((output) => ({ type: "save.done", output })),
  failure.map((error) => ({ type: "save.error", error })),
  fc.constant({ type: "CANCEL" }),
  fc.constant({ type: "xstate.after.stepTimeout.run.running" }),
  fc.constant({ type: "xstate.after.retryDelay.run.retryWaiting" }),
  fc.constant({ type: "unknown.event" }),
);

describe("flat machines: the run machine, against xstate", () => {
  it("compiles the run machine (a fallback to xstate would cost ~60 KB per run)", () => {
    expect(compileFlat(buildRunMachine(def, deps()).machine, scopeOf([]))).toBeDefined();
  });

  it("matches xstate step by step on the straight-line run: begun, run, next step, done", () => {
    const m = () => buildRunMachine(def, deps()).machine;
    const input = { runId: "r1", event: {}, state: running(0, 0), io: {} };
    const after = (index: number, status: RunState["status"] = "running") => ({
      ...running(index, 0),
      status,
    });
    const steps = compare([m(), m()], input, [
      { type: "beginTry.done", output: { state: running(0, 1), begun: { stepKey: "a", attempt: 1 } } },
      { type: "runTry.done", output: { state: running(1, 1), begun: { stepKey: "b", attempt: 1 } } },
      { type: "runTry.done", output: { state: after(2, "succeeded") } },
    ]);
    expect(steps).toBe(3);
  });

  it("matches xstate on any sequence of the run machine's events", () => {
    fc.assert(
      fc.property(fc.constantFrom(...states), fc.array(runEvent, { maxLength: 14 }), (state, events) => {
        const m = () => buildRunMachine(def, deps()).machine;
        compare([m(), m()], { runId: "r1", event: { id: 1 }, state, io: {} }, events);
      }),
      fuzzParams(400),
    );
  });
});

// ------------------------------------------------------------------------------------------------------
// Other flat machines: what the run machine does not use today, and how xstate treats it

/** A machine with targetless, reentering and root transitions, eventless chains, a raise, exits and delays. */
function sampleMachine() {
  return setup({
    types: {} as { context: { n: number; log: string[] }; events: Ev },
    actions: {
      effect: (_, _p: { n: number } | undefined) => {},
      bump: assign({ n: ({ context }) => context.n + 1 }),
      note: assign(({ context, event }, p: { tag: string } | undefined) => ({
        log: [...context.log, `${p?.tag ?? "-"}:${event.type}`],
      })),
    },
    guards: {
      small: ({ context }) => context.n < 3,
      isEven: ({ context }, p: { mod: number }) => context.n % p.mod === 0,
      explodes: () => {
        throw new Error("guard exploded");
      },
    },
    delays: { wait: ({ context }) => 100 + context.n, fixed: 50 },
  }).createMachine({
    id: "sample",
    // `looping` loops for ever: both sides must stop it the same way.
    options: { maxIterations: 40 },
    context: ({ input }) => ({ n: (input as { n?: number } | undefined)?.n ?? 0, log: [] }),
    initial: "idle",
    on: {
      RESET: { target: ".idle", actions: assign({ n: 0 }) },
      TAG: { actions: { type: "note", params: { tag: "root" } } },
      PING: { actions: "effect" },
      ECHO: ".echo",
    },
    states: {
      idle: {
        entry: [{ type: "note", params: ({ event }) => ({ tag: `in-${event.type}` }) }],
        exit: [{ type: "note", params: { tag: "out" } }],
        on: {
          GO: { target: "busy", actions: "bump" },
          STAY: { target: "idle" },
          AGAIN: { target: "idle", reenter: true },
          COUNT: { actions: "bump" },
          NOTHING: {},
          BAD: { guard: "explodes", target: "busy" },
          RAISE: { actions: raise({ type: "GO" }) },
          PING: [{ guard: "small", target: "busy" }, { actions: "effect" }],
        },
      },
      busy: {
        entry: [{ type: "effect", params: ({ context }) => ({ n: context.n }) }, "bump"],
        after: { wait: { target: "checking" }, fixed: { guard: "small", actions: "bump" } },
        on: {
          DONE: { target: "checking", actions: "bump" },
          AGAIN: { target: "busy", reenter: true },
          STAY: { target: "busy" },
          TAG: { actions: { type: "note", params: { tag: "busy" } } },
        },
      },
      checking: {
        always: [
          { guard: { type: "isEven", params: { mod: 2 } }, target: "even" },
          { guard: "small", target: "idle" },
          { actions: "bump", target: "checking" },
        ],
      },
      looping: { always: { actions: "bump" } },
      // Taken once per macrostep: it changes nothing, so xstate looks no further.
      echo: { always: { actions: "effect" }, on: { GO: "busy" } },
      even: {
        entry: "effect",
        exit: ({ context }) => {
          if (context.n > 100) throw new Error("too many");
        },
        on: { LOOP: "looping", DONE: "finished" },
      },
      finished: { type: "final", exit: { type: "note", params: { tag: "final" } } },
    },
  });
}

const sampleEvents = fc.constantFrom<Ev>(
  ...[
    "GO",
    "STAY",
    "AGAIN",
    "COUNT",
    "NOTHING",
    "BAD",
    "RAISE",
    "PING",
    "DONE",
    "TAG",
    "RESET",
    "LOOP",
    "ECHO",
    "xstate.after.wait.sample.busy",
    "xstate.after.fixed.sample.busy",
    "xstate.error.actor.x",
    "nobody",
  ].map((type) => ({ type })),
);

describe("flat machines: other shapes, against xstate", () => {
  it("matches xstate on any sequence of events of a machine using every supported feature", () => {
    fc.assert(
      fc.property(fc.nat(6), fc.array(sampleEvents, { maxLength: 20 }), (n, events) => {
        compare([sampleMachine(), sampleMachine()], { n }, events);
      }),
      fuzzParams(400),
    );
  });

  it("throws as xstate throws: a guard's error names it, an endless eventless loop stops", () => {
    expect(compare([sampleMachine(), sampleMachine()], { n: 0 }, [{ type: "BAD" }])).toMatch(
      /Unable to evaluate guard 'explodes' in transition for event 'BAD' in state node 'sample.idle':\nguard exploded/,
    );
    const loop = () =>
      createMachine({
        options: { maxIterations: 50 },
        context: { n: 0 },
        initial: "a",
        states: {
          a: { on: { GO: "b" } },
          b: { always: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
        },
      });
    expect(compare([loop(), loop()], undefined, [{ type: "GO" }])).toMatch(/Infinite loop detected/);
  });

  it("compiles no machine it does not cover (xstate then runs it)", () => {
    const scope = scopeOf([]);
    const nested = createMachine({ initial: "a", states: { a: { initial: "b", states: { b: {} } } } });
    const parallel = createMachine({ type: "parallel", states: { a: {}, b: {} } });
    const invoking = createMachine({ initial: "a", states: { a: { invoke: { src: createMachine({}) } } } });
    const wildcard = createMachine({ initial: "a", states: { a: { on: { "*": "b" } }, b: {} } });
    const notGuard = createMachine(
      { initial: "a", states: { a: { on: { E: { guard: not("g"), target: "b" } } }, b: {} } },
      { guards: { g: () => true } },
    );
    const output = createMachine({ initial: "a", output: 1, states: { a: { type: "final" } } });
    for (const m of [nested, parallel, invoking, wildcard, notGuard, output])
      expect(compileFlat(m, scope)).toBeUndefined();
  });
});
