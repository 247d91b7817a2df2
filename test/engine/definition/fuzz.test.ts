// Property-based fuzzing (fast-check) of the workflow loader and of expression evaluation: random YAML
// documents, random text, mutations of the example workflows, and random CEL over random events. Nothing
// throws out of the loader, nothing hangs, and every refusal is a problem at a real file position (or, at run
// time, a step error naming file:line:column). Bounded for CI: a fixed seed and a few seconds per property;
// FUZZ_RUNS=<n> runs n cases per property without the time limit (FUZZ_SEED picks another seed).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { tryCompileExpression } from "../../../src/engine/definition/expr.js";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import type { ExprContext } from "../../../src/engine/definition/types.js";
import { StepError } from "../../../src/errors.js";

const LONG = Number(process.env.FUZZ_RUNS ?? 0);
const PARAMS: fc.Parameters<unknown> = {
  seed: Number(process.env.FUZZ_SEED ?? 20_26),
  numRuns: LONG > 0 ? LONG : 300,
  ...(LONG > 0 ? {} : { interruptAfterTimeLimit: 4_000, markInterruptAsFailure: false }),
};
const TIMEOUT = LONG > 0 ? 3_600_000 : 60_000;

const EXAMPLES = readdirSync("workflows")
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".test.yaml"))
  .map((f) => ({ file: `workflows/${f}`, text: readFileSync(join("workflows", f), "utf8") }));

/** Loads `text` and checks what the loader promises: a workflow or located problems, never a throw. */
function checkLoad(file: string, text: string): void {
  const r = loadWorkflowSource(file, text, { envAllow: [] });
  const lines = text.split("\n").length;
  if (r.workflow) expect(r.problems).toEqual([]);
  else expect(r.problems.length).toBeGreaterThan(0);
  for (const p of r.problems) {
    expect(p.file).toBe(file);
    expect(p.line).toBeGreaterThanOrEqual(1);
    expect(p.line).toBeLessThanOrEqual(lines + 1);
    expect(p.column).toBeGreaterThanOrEqual(1);
    expect(p.message.trim()).not.toBe("");
  }
}

/** Pieces that YAML and skyflow treat specially, to splice into files. */
const SNIPPETS = [
  ": ",
  "- ",
  "[",
  "]",
  "{",
  "}",
  "${{ ",
  " }}",
  "${{ event.data.x }}",
  "&a ",
  "*a",
  "<<: *a",
  "\t",
  "'",
  '"',
  "#",
  "\n",
  "\n  ",
  "---\n",
  "!!binary ",
  "? ",
  "|\n  ",
  "as: master",
  "as: ${{ event.data.u }}",
  "timeout: 99999999h",
  "__proto__: 1",
  "\u0000",
  "\uFEFF",
  "\uD800",
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom(...SNIPPETS) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant("dupline" as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, ms: Mutation[]): string {
  let out = text;
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === "insert") out = out.slice(0, at) + m.text + out.slice(at);
    else if (m.kind === "delete") out = out.slice(0, at) + out.slice(at + m.length);
    else {
      const lines = out.split("\n");
      const i = lines.length === 0 ? 0 : m.at % lines.length;
      lines.splice(i, 0, lines[i] ?? "");
      out = lines.join("\n");
    }
  }
  return out;
}

/** CEL over the event, built from a small grammar: names, literals, operators, macros, functions. */
const cel: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(
      "event.data",
      "event.data.n",
      "event.data.s",
      "event.data.list",
      "event.data.map",
      "event.id",
      "run.attempt",
      "env",
      "1",
      "2.5",
      "'a'",
      "true",
      "null",
      "[1, 2, 3]",
      "{'k': 1}",
      "uuid()",
      "now()",
      "x",
      "x.y",
    ),
    fc
      .tuple(
        tie("e"),
        fc.constantFrom("+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "in"),
        tie("e"),
      )
      .map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc
      .tuple(fc.constantFrom("map", "filter", "exists", "all", "exists_one"), tie("e"), tie("e"))
      .map(([m, l, body]) => `${l}.${m}(x, ${body})`),
    fc
      .tuple(fc.constantFrom("size", "string", "int", "double", "has", "dyn", "type"), tie("e"))
      .map(([f, a]) => (f === "has" ? `has(${a}.x)` : `${f}(${a})`)),
    fc
      .tuple(tie("e"), fc.constantFrom("contains", "startsWith", "matches", "split", "join"), tie("e"))
      .map(([a, f, b]) => `${a}.${f}(${b})`),
    fc.tuple(tie("e"), tie("e"), tie("e")).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    fc.tuple(tie("e"), tie("e")).map(([a, i]) => `${a}[${i}]`),
    tie("e").map((a) => `!${a}`),
    tie("e").map((a) => `${a}.?x.orValue(0)`),
  ),
})).e;

const eventData = fc.record({
  n: fc.oneof(fc.double({ noNaN: false }), fc.integer()),
  s: fc.string({ maxLength: 40 }),
  list: fc.array(fc.oneof(fc.double(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxLength: 40 }),
  map: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  x: fc.jsonValue({ maxDepth: 3 }),
});

function context(data: unknown): ExprContext {
  return {
    event: { id: "e", type: "pubsub", at: "2026-01-01T00:00:00Z", channel: "c", data },
    steps: {},
    run: { id: "r", workflow: "w", attempt: 1, started_at: "2026-01-01T00:00:00Z" },
    env: { REGION: "hk" },
    now: new Date("2026-01-01T00:00:00Z"),
    uuidSeed: "r:s",
  };
}

/** Anchors that refer to earlier anchors (now and then to themselves), each used `fan` times. */
const aliasGraph = fc
  .array(fc.record({ fan: fc.integer({ min: 1, max: 12 }), self: fc.boolean(), wrap: fc.boolean() }), {
    minLength: 1,
    maxLength: 9,
  })
  .map((levels) => {
    let text = "x-a0: &a0 [1, 2, 3]\n";
    levels.forEach((l, i) => {
      const ref = l.self && i % 4 === 3 ? `a${i + 1}` : `a${i}`;
      const items = Array.from({ length: l.fan }, () => (l.wrap ? `{ <<: *${ref}, k: *${ref} }` : `*${ref}`));
      text += `x-a${i + 1}: &a${i + 1} [${items.join(", ")}]\n`;
    });
    return `${text}on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: *a${levels.length} }\n`;
  });

describe("fuzzing the workflow loader", () => {
  it(
    "refuses or loads any graph of anchors and aliases, in bounded time",
    () => {
      fc.assert(
        fc.property(aliasGraph, (t) => checkLoad("f.yaml", t)),
        PARAMS,
      );
    },
    TIMEOUT,
  );

  it(
    "never throws on a random YAML document, and locates every problem",
    () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => checkLoad("f.yaml", stringify(v))),
        PARAMS,
      );
    },
    TIMEOUT,
  );

  it(
    "never throws on random text",
    () => {
      const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 200 }));
      fc.assert(
        fc.property(text, (t) => checkLoad("f.yaml", t)),
        PARAMS,
      );
    },
    TIMEOUT,
  );

  it(
    "never throws on mutations of the example workflows, and locates every problem",
    () => {
      const example = fc.constantFrom(...EXAMPLES);
      fc.assert(
        fc.property(example, fc.array(mutation, { minLength: 1, maxLength: 6 }), (ex, ms) =>
          checkLoad(ex.file, mutate(ex.text, ms)),
        ),
        PARAMS,
      );
    },
    TIMEOUT,
  );
});

/** Comprehensions nested over the event's list, as deep and as long as a message can make them. */
const nestedComprehension = fc
  .tuple(
    fc.array(fc.constantFrom("map", "filter", "exists", "all", "exists_one"), { minLength: 1, maxLength: 5 }),
    fc.integer({ min: 50, max: 300 }),
  )
  .map(([macros, n]) => {
    let body = macros.map((_, i) => `v${i}`).join(" + ");
    for (let i = macros.length - 1; i >= 0; i--) {
      const m = macros[i]!;
      const inner = m === "map" ? body : `(${body}) > 0.0`;
      body = `event.data.list.${m}(v${i}, ${inner})`;
    }
    return { src: body, list: Array.from({ length: n }, (_, i) => i + 0.5) };
  });

describe("fuzzing expressions", () => {
  it(
    "ends every nested comprehension over a long list: a value, or a step error",
    () => {
      fc.assert(
        fc.property(nestedComprehension, ({ src, list }) => {
          const r = tryCompileExpression(src, { file: "f.yaml", line: 3, column: 7 });
          if (!r.expr) return;
          try {
            JSON.stringify(r.expr.evaluate(context({ list })));
          } catch (err) {
            expect(err).toBeInstanceOf(StepError);
            expect((err as Error).message).toMatch(/^f\.yaml:3:7: \$\{\{ /);
          }
        }),
        PARAMS,
      );
    },
    TIMEOUT,
  );

  it(
    "compiles random text or reports a problem at a position, never throws",
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 60 }), cel), (src) => {
          const r = tryCompileExpression(src, { file: "f.yaml", line: 3, column: 7 });
          if (r.expr) return;
          expect(r.problems.length).toBe(1);
          expect(r.problems[0]!.line).toBe(3);
          expect(r.problems[0]!.column).toBeGreaterThanOrEqual(7);
        }),
        PARAMS,
      );
    },
    TIMEOUT,
  );

  it(
    "evaluates random CEL over random events to JSON, or fails the step naming file:line:column",
    () => {
      fc.assert(
        fc.property(cel, eventData, (src, data) => {
          const r = tryCompileExpression(src, { file: "f.yaml", line: 3, column: 7 });
          if (!r.expr) return;
          try {
            const v = r.expr.evaluate(context(data));
            expect(() => JSON.stringify(v)).not.toThrow();
          } catch (err) {
            expect(err).toBeInstanceOf(StepError);
            expect((err as Error).message).toMatch(/^f\.yaml:3:7: \$\{\{ /);
          }
        }),
        PARAMS,
      );
    },
    TIMEOUT,
  );
});
