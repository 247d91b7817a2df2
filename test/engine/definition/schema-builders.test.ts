// schema.ts built with schema-builders.ts gives the very objects it gives built with typebox's own builders:
// the same keys in the same order, hidden ones (`~kind`, `~optional`) included, with the same descriptors.
import Typebox from "typebox";
import { describe, expect, it, vi } from "vitest";

const SCHEMA = "../../../src/engine/definition/schema.js";
const BUILDERS = "../../../src/engine/definition/schema-builders.js";

/** Every own key (hidden ones too) with its descriptor's flags, in order, down the whole object. */
function described(v: unknown, seen = new Set<unknown>()): unknown {
  if (v === null || typeof v !== "object") return v;
  if (seen.has(v)) return "[cycle]";
  seen.add(v);
  const out: [string, boolean, boolean, boolean, unknown][] = [];
  for (const key of Reflect.ownKeys(v)) {
    const d = Object.getOwnPropertyDescriptor(v, key)!;
    out.push([String(key), !!d.enumerable, !!d.writable, !!d.configurable, described(d.value, seen)]);
  }
  seen.delete(v);
  return { array: Array.isArray(v), frozen: Object.isFrozen(v), proto: Object.getPrototypeOf(v), out };
}

describe("schema builders", () => {
  it("schema.ts's exports are the objects typebox's builders make", async () => {
    vi.resetModules();
    const ours = (await import(SCHEMA)) as Record<string, unknown>;
    vi.resetModules();
    vi.doMock(BUILDERS, () => ({ Type: Typebox }));
    const theirs = (await import(SCHEMA)) as Record<string, unknown>;
    vi.doUnmock(BUILDERS);
    vi.resetModules();
    expect(ours).not.toBe(theirs);
    const names = Object.keys(theirs).filter((k) => typeof theirs[k] === "object");
    expect(names).toEqual(
      expect.arrayContaining(["WorkflowFile", "Step", "Trigger", "RUN_KINDS", "KINDS", "Retry", "Duration"]),
    );
    for (const name of names) expect(described(ours[name]), name).toEqual(described(theirs[name]));
  });

  it("each builder alone, with and without options", async () => {
    const { Type } = (await import(BUILDERS)) as { Type: typeof Typebox };
    const cases = (T: typeof Typebox) => [
      T.String(),
      T.String({ pattern: "^a$", description: "d" }),
      T.Integer({ minimum: 0 }),
      T.Number(),
      T.Boolean({ description: "b" }),
      T.Null(),
      T.Unknown({ description: "u" }),
      T.Enum(["a", "b"], { description: "e" }),
      T.Array(T.String(), { minItems: 1 }),
      T.Union([T.String(), T.Null()], { "x-expected": "x" }),
      T.Record(T.String(), T.Unknown()),
      T.Record(T.String({ pattern: "^[a-z]+$" }), T.Array(T.Unknown()), { description: "r" }),
      T.Optional(T.Union([T.Integer(), T.Null()])),
      T.Object({ a: T.Optional(T.String()), b: T.Integer() }, { additionalProperties: false }),
      T.Object({ a: T.Optional(T.String()) }),
      T.Object({}, { additionalProperties: false, patternProperties: { "^x-": {} } }),
    ];
    expect(described(cases(Type))).toEqual(described(cases(Typebox)));
    expect(JSON.stringify(cases(Type))).toBe(JSON.stringify(cases(Typebox)));
  });
});
