// CEL expressions and templates: values, types, errors with file:line and hints, uuid() stability.
import { describe, expect, it } from "vitest";
import {
  compileExpression,
  compileTemplate,
  ExpressionError,
  resolveTemplate,
  scanExpressions,
} from "../../../src/engine/definition/expressions.js";
import type { ExprContext } from "../../../src/engine/definition/types.js";
import { DefinitionError, FatalStepError } from "../../../src/errors.js";

const loc = { file: "wf.yaml", line: 7, column: 9 };

function ctx(over: Partial<ExprContext> = {}): ExprContext {
  return {
    event: {
      id: "e1",
      type: "record",
      at: "2026-01-01T00:00:00Z",
      op: "update",
      record: {
        _id: "task/1",
        title: "Report",
        status: "open",
        priority: 3,
        tags: ["a", "b"],
        reviewer: { $type: "ref", $id: "user/42" },
        parent: null,
        items: [
          { price: 2.5, qty: 2 },
          { price: 10, qty: 1 },
        ],
      },
    },
    steps: { first: { output: { records: [{ n: 1 }], count: 1 }, status: "succeeded" } },
    run: { id: "run-1", workflow: "wf", attempt: 1, started_at: "2026-01-01T00:00:00Z" },
    env: { REGION: "hk" },
    now: new Date("2026-02-03T04:05:06Z"),
    uuidSeed: "run-1/save",
    ...over,
  };
}

const ev = (src: string, c = ctx()) => compileExpression(src, loc).evaluate(c);

describe("expression values", () => {
  it("does arithmetic with doubles and ints", () => {
    expect(ev("event.record.priority + 1.0")).toBe(4);
    expect(ev("int(event.record.priority) * 2")).toBe(6);
    expect(ev("7 / 2")).toBe(3);
    expect(ev("7.0 / 2.0")).toBe(3.5);
    expect(ev("event.record.priority > 2")).toBe(true);
  });
  it("handles strings", () => {
    expect(ev('event.record.title + "!"')).toBe("Report!");
    expect(ev('event.record.title.startsWith("Rep") && size(event.record.title) == 6')).toBe(true);
    expect(ev('"n=" + string(int(event.record.priority))')).toBe("n=3");
  });
  it("handles lists, maps, in and ternaries", () => {
    expect(ev('"b" in event.record.tags')).toBe(true);
    expect(ev('{"a": 1, "b": [1, 2.5]}')).toEqual({ a: 1, b: [1, 2.5] });
    expect(ev('"status" in event.record')).toBe(true);
    expect(ev('event.record.status == "open" ? "yes" : "no"')).toBe("yes");
  });
  it("runs the map, filter, exists and all macros", () => {
    expect(ev("event.record.items.map(i, i.price * i.qty)")).toEqual([5, 10]);
    expect(ev("event.record.items.filter(i, i.price > 5.0).size()")).toBe(1);
    expect(ev('event.record.tags.exists(t, t == "b")')).toBe(true);
    expect(ev("event.record.items.all(i, i.qty >= 1.0)")).toBe(true);
  });
  it("reads $-prefixed keys with an index, has(), steps, run and env", () => {
    expect(ev('event.record.reviewer["$id"]')).toBe("user/42");
    expect(ev("has(event.record.title)")).toBe(true);
    expect(ev("has(event.record.missing)")).toBe(false);
    expect(ev("steps.first.output.count")).toBe(1);
    expect(ev("run.attempt")).toBe(1);
    expect(ev("env.REGION")).toBe("hk");
  });
  it("gives now() as the run's clock and timestamps as ISO text", () => {
    expect(ev("now()")).toBe("2026-02-03T04:05:06.000Z");
    expect(ev('now() > timestamp("2026-01-01T00:00:00Z")')).toBe(true);
  });
});

describe("field selections", () => {
  // `a.b.c` is read directly when CEL's value is sure to be the same (expr.ts readPath); `dyn(a.b.c)` is
  // always evaluated by CEL. Both must give the same value, or both throw.
  const outcome = (source: string, c: ExprContext) => {
    try {
      return { value: compileExpression(source, loc).evaluate(c) };
    } catch (err) {
      return { error: err instanceof ExpressionError };
    }
  };
  it("gives what CEL gives, for every kind of value and a missing field", () => {
    const c = ctx({
      event: {
        ...ctx().event,
        record: {
          ...(ctx().event.record as object),
          big: 2 ** 60,
          neg: -0,
          frac: -1.25,
          yes: true,
          empty: "",
          nested: { deep: { x: "y" }, list: [1, { z: 2 }] },
          inherited: Object.create({ hidden: "p" }),
          nullProto: Object.assign(Object.create(null), { k: "v" }),
        },
      },
    });
    const fields = [
      "event.id",
      "event.record.title",
      "event.record.priority",
      "event.record.parent",
      "event.record.tags",
      "event.record.reviewer",
      "event.record.big",
      "event.record.neg",
      "event.record.frac",
      "event.record.yes",
      "event.record.empty",
      "event.record.nested.deep.x",
      "event.record.nested.list",
      "event.record.inherited.hidden",
      "event.record.nullProto.k",
      "event.record.missing",
      "event.record.parent.x",
      "event.record.title.length",
      "event.record.constructor",
      "event.record.hasOwnProperty",
      "steps.first.output.count",
      "steps.first.status",
      "steps.nope.output",
      "run.attempt",
      "run.id",
      "env.REGION",
      "env.MISSING",
      "error.message",
    ];
    for (const f of fields) expect(outcome(f, c), f).toEqual(outcome(`dyn(${f})`, c));
    expect(outcome("event.record.title", c)).toEqual({ value: "Report" });
    expect(outcome("event.record.missing", c)).toEqual({ error: true });
  });
});

describe("expression errors", () => {
  it("reports int plus double at run time as an ExpressionError naming the line and the fix", () => {
    const e = compileExpression("event.record.priority + 1", loc);
    let err: unknown;
    try {
      e.evaluate(ctx());
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(ExpressionError);
    expect(err).toBeInstanceOf(FatalStepError);
    expect((err as ExpressionError).errorName).toBe("ExpressionError");
    expect((err as Error).message).toContain("wf.yaml:7:9");
    expect((err as Error).message).toContain("write 1.0 instead of 1");
  });
  it("reports a missing field and a field of null with a has() hint", () => {
    expect(() => ev("event.record.nope")).toThrow(/No such key: nope.*guard with has/);
    expect(() => ev("event.record.parent.name")).toThrow(/guard with has/);
  });
  it("reports a syntax error at load with the column of the error", () => {
    try {
      compileExpression("event.record.title +", loc);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DefinitionError);
      const p = (err as DefinitionError).problems[0]!;
      expect(p.line).toBe(7);
      expect(p.column).toBe(9 + 20);
      expect(p.message).toMatch(/^expression syntax error/);
    }
  });
  it("reports unknown functions and names at load, with a suggestion", () => {
    expect(() => compileExpression("uuidv4()", loc)).toThrow(
      /unknown function uuidv4\(\) \(did you mean uuid\(\)\?\)/,
    );
    expect(() => compileExpression("evnt.x", loc)).toThrow(/unknown name "evnt" \(did you mean "event"\?\)/);
  });
});

describe("templates", () => {
  const at = () => ({ file: "wf.yaml", line: 3, column: 5 });
  it("keeps the JSON type of a scalar that is exactly one expression", () => {
    const t = compileTemplate({ limit: "${{ event.record.priority }}", flag: " ${{ true }} " }, at);
    expect(resolveTemplate(t, ctx())).toEqual({ limit: 3, flag: true });
  });
  it("interpolates expressions inside longer strings as text, lists and maps as JSON", () => {
    const t = compileTemplate(
      ["task ${{ event.record.title }} (${{ event.record.priority }})", "t=${{ event.record.tags }}"],
      at,
    );
    expect(resolveTemplate(t, ctx())).toEqual(["task Report (3)", 't=["a","b"]']);
  });
  it("resolves nested maps and lists and leaves keys alone", () => {
    const t = compileTemplate({ "${{ k }}": { a: ["${{ event.record._id }}", 1] }, b: null }, at);
    expect(resolveTemplate(t, ctx())).toEqual({ "${{ k }}": { a: ["task/1", 1] }, b: null });
  });
  it("gives uuid() the same values for the same seed and new ones for another seed", () => {
    const t = compileTemplate({ a: "review/${{ uuid() }}", b: "${{ uuid() }}" }, at);
    const one = resolveTemplate(t, ctx()) as { a: string; b: string };
    const again = resolveTemplate(t, ctx()) as { a: string; b: string };
    const other = resolveTemplate(t, ctx({ uuidSeed: "run-2/save" })) as { a: string; b: string };
    expect(one).toEqual(again);
    expect(one.a).toMatch(/^review\/[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(one.a.slice(7)).not.toBe(one.b);
    expect(other.b).not.toBe(one.b);
  });
  it("finds expressions with braces and quotes inside", () => {
    const { parts } = scanExpressions('x ${{ {"a": "}}"}["a"] }} y');
    expect(parts).toEqual(["x ", { source: '{"a": "}}"}["a"]', start: 2, sourceStart: 6 }, " y"]);
    const t = compileTemplate('${{ {"a": {"b": 1}} }}', at);
    expect(resolveTemplate(t, ctx())).toEqual({ a: { b: 1 } });
  });
  it("reports every bad expression of a value with its location", () => {
    try {
      compileTemplate({ a: "${{ 1 + }}", b: "x ${{ nope() }}", c: "${{ open" }, at);
      expect.unreachable();
    } catch (err) {
      const msgs = (err as DefinitionError).problems.map((p) => `${p.path}:${p.column}: ${p.message}`);
      expect(msgs).toEqual([
        "a:12: expression syntax error: Unexpected token: EOF",
        "b:9: unknown function nope() (did you mean none()?)",
        'c:5: unterminated expression: "${{" without a closing "}}"',
      ]);
    }
  });
});
