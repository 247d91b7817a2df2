// Hostile CEL expressions: each stops within its evaluation budget with an error naming file:line:column
// (or gives its plain answer), the stop holds under && / || / exists(), and a trigger's `when` or a step's
// short timeout bounds it further. bench/hostile.ts prints how long each takes.
import { describe, expect, it } from "vitest";
import { oneBudget, withResolution } from "../../../src/engine/definition/cel.js";
import { compileExpression } from "../../../src/engine/definition/expr.js";
import { passesWhen, whenContext } from "../../../src/engine/triggers/context.js";
import { hostileExpressions } from "./hostile-cases.js";
import { evaluateHostile, hostileContext, hostileEvent } from "./hostile-eval.js";

const STOPPED = /^(ExpressionError|Timeout): h\.yaml:1:1: \$\{\{ .* \}\}: /;

describe("hostile expressions", () => {
  it("stop within the budget with an error naming the expression", () => {
    for (const name of [
      "nestedMaps",
      "nestedOverData",
      "nestedExists",
      "doublingList",
      "doublingString",
      "filterChain",
    ]) {
      expect(evaluateHostile(hostileExpressions[name]!), name).toMatch(STOPPED);
    }
  });

  it("a regex that would backtrack for ever answers, and backreferences are refused", () => {
    expect(evaluateHostile(hostileExpressions.redos!)).toBe("false");
    expect(evaluateHostile(hostileExpressions.redosFromData!)).toBe("false");
    expect(evaluateHostile("event.data.s.matches('^a+!$')")).toBe("true");
    expect(evaluateHostile("'aa'.matches('(a)\\\\1')")).toMatch(
      /^ExpressionError: .*backreferences and lookaround/,
    );
    expect(evaluateHostile("'aa'.matches('a(?=a)')")).toMatch(
      /^ExpressionError: .*backreferences and lookaround/,
    );
  });

  it("a stop is not absorbed by || , && or exists()", () => {
    const bomb = hostileExpressions.nestedOverData!;
    expect(evaluateHostile(`size(${bomb}) > 0 || true`)).toMatch(STOPPED);
    expect(evaluateHostile(`false || size(${bomb}) > 0`)).toMatch(STOPPED);
    expect(evaluateHostile(`[1, 2].exists(i, size(${bomb}) > 0 || i == 1)`)).toMatch(STOPPED);
  });

  it("counts the operations it stops at, so the same expression stops the same way", () => {
    const msg = evaluateHostile(hostileExpressions.doublingString!);
    expect(msg).toMatch(/evaluation stopped after \d+ (operations|units of lists and text built)/);
  });

  it("lets large but reasonable work through", () => {
    const out = JSON.parse(evaluateHostile("event.data.list.map(x, x * 2.0).filter(x, x > 100.0).size()"));
    expect(out).toBe(150);
    // Far from the budget, so that a loaded machine's clock cannot stop it either.
    expect(evaluateHostile("event.data.list.map(a, [1.5, 2.5, 3.5].exists(b, a == b)).size()")).toBe("200");
  });

  it("a budget smaller than the default (a step's short timeout) stops it sooner", () => {
    // By its clock (a Timeout), or by the operations that fit in 5 ms on a fast machine.
    expect(evaluateHostile(hostileExpressions.nestedOverData!, 5)).toMatch(
      /^(Timeout: .*more than 5 ms|ExpressionError: .*after 50000 operations)/,
    );
  });

  it("a trigger's when that runs away counts as no, within the trigger budget", () => {
    const when = compileExpression(`size(${hostileExpressions.nestedOverData}) > 0`, {
      file: "w.yaml",
      line: 3,
      column: 11,
    });
    const wf = { name: "w" } as Parameters<typeof whenContext>[1];
    const errors: unknown[] = [];
    const ok = passesWhen(when, whenContext(hostileEvent, wf, {}, new Date()), (e) => errors.push(e));
    expect(ok).toBe(false);
    expect(String((errors[0] as Error).message)).toMatch(/^w\.yaml:3:11: /);
    expect(String((errors[0] as Error).message)).toMatch(/more than 10 ms|after 100000 operations/);
  });

  it("gives each evaluation of a reused context a budget of its own, and shares one inside oneBudget", () => {
    const ctx = hostileContext();
    const first = withResolution(ctx, (b) => b);
    const second = withResolution(ctx, (b) => b);
    expect(second).not.toBe(first);
    const [a, b] = oneBudget(ctx, () => [withResolution(ctx, (x) => x), withResolution(ctx, (x) => x)]);
    expect(a).toBe(b);
    expect(withResolution(ctx, (x) => x)).not.toBe(a);
  });
});
