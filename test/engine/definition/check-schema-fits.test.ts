// check-schema.ts answers "does it conform" in two modes of one rule set: `fits`, the fast pass a step's
// input takes, which stops at the first problem, and `walk`, which names them all. A rule that answered
// differently in the two would let bad input through, so they are held to one answer on generated schemas
// (every keyword they handle) and on the workflow schemas, with values drawn near each schema. fast-check,
// fixed seed (FUZZ_SEED, FUZZ_RUNS). No I/O.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fits, type RawProblem, type Schema, walk } from "../../../src/engine/definition/check-schema.js";
import { RUN_KINDS, Step, WorkflowFile } from "../../../src/engine/definition/schema.js";
import { fuzzParams } from "../../helpers/fuzz.js";

const walkAccepts = (s: Schema, v: unknown): boolean => {
  const out: RawProblem[] = [];
  walk(s, v, "", out, (p, k) => `${p}.${k}`);
  return out.length === 0;
};

/** The keywords that decide acceptance; "type" counts once per type name. */
const KEYWORDS = [
  "anyOf",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "patternProperties",
  "items",
  "minItems",
  "minLength",
  "pattern",
  "minimum",
  ...["object", "array", "string", "integer", "number", "boolean", "null"].map((t) => `type:${t}`),
];

// Few names and values, so that keys collide with properties, patterns and enums, and values with limits.
const KEYS = ["a", "b", "x_1", "x_2", "zz"];
const STRINGS = ["", "a", "ab", "12", "x_1", "b 1"];
const NUMBERS = [-1, 0, 1, 2, 2.5, 1e9, Number.NaN, Number.POSITIVE_INFINITY, -0];
const ENUMS = ["a", "b", 1, 2.5, null, true];

const leafSchema: fc.Arbitrary<Schema> = fc.oneof(
  fc.record(
    {
      type: fc.constant("string"),
      minLength: fc.constantFrom(0, 1, 2),
      pattern: fc.constantFrom("^a", "^\\d+$", "^x_"),
      "x-expected": fc.constant("a label"),
    },
    { requiredKeys: ["type"] },
  ),
  fc.record(
    { type: fc.constantFrom("integer", "number"), minimum: fc.constantFrom(0, 1, 2.5) },
    { requiredKeys: ["type"] },
  ),
  fc.record({ type: fc.constantFrom("boolean", "null") }),
  fc.record({ enum: fc.subarray(ENUMS, { minLength: 1 }) }),
  fc.constant({}),
);

const { schema: genSchema } = fc.letrec<{ schema: Schema }>((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafSchema,
    fc
      .record(
        {
          properties: fc.dictionary(fc.constantFrom(...KEYS), tie("schema"), { maxKeys: 3 }),
          extraRequired: fc.subarray(KEYS, { maxLength: 2 }),
          additionalProperties: fc.option(fc.constant(false as const)),
          patternProperties: fc.option(tie("schema")),
        },
        { requiredKeys: ["properties", "extraRequired"] },
      )
      .map(({ properties, extraRequired, additionalProperties, patternProperties }): Schema => {
        const s: Schema = { type: "object", properties };
        // Mostly the declared keys, sometimes one that no property names (it can only be met by a pattern).
        const required = [...Object.keys(properties).filter((_, i) => i % 2 === 0), ...extraRequired];
        if (required.length > 0) s.required = [...new Set(required)];
        if (additionalProperties === false) s.additionalProperties = false;
        if (patternProperties) s.patternProperties = { "^x_": patternProperties };
        return s;
      }),
    fc.record(
      {
        type: fc.constant("array"),
        items: tie("schema"),
        minItems: fc.constantFrom(0, 1, 2),
      },
      { requiredKeys: ["type"] },
    ),
    fc.record({ anyOf: fc.array(tie("schema"), { minLength: 1, maxLength: 3 }) }),
  ),
}));

const noise: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...STRINGS, ...NUMBERS, ...ENUMS, false, [], {}, [1], { a: 1 }),
  fc.jsonValue(),
);

/** Values near `s`: mostly of its shape (so that many conform), sometimes anything. */
function near(s: Schema, depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return noise;
  return fc.oneof({ arbitrary: shaped(s, depth), weight: 4 }, { arbitrary: noise, weight: 1 });
}

function shaped(s: Schema, depth: number): fc.Arbitrary<unknown> {
  if (s.anyOf) return fc.oneof(...s.anyOf.map((b) => near(b, depth + 1)));
  if (s.enum) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case "object":
      return shapedObject(s, depth);
    case "array":
      return fc.array(s.items ? near(s.items, depth + 1) : noise, { maxLength: 3 });
    case "string":
      return fc.constantFrom(...STRINGS);
    case "integer":
    case "number":
      return fc.constantFrom(...NUMBERS);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    default:
      return noise;
  }
}

function shapedObject(s: Schema, depth: number): fc.Arbitrary<unknown> {
  const props = Object.entries(s.properties ?? {});
  const pattern = s.patternProperties?.["^x_"];
  return fc
    .tuple(
      fc.tuple(...props.map(([, p]) => fc.option(near(p, depth + 1), { freq: 5 }))),
      fc.dictionary(fc.constantFrom(...KEYS), pattern ? near(pattern, depth + 1) : noise, { maxKeys: 2 }),
    )
    .map(([values, extra]) => {
      // Some of the extra keys, then the properties drawn (a property drawn as absent is left out).
      const o: Record<string, unknown> = Object.keys(extra).length % 2 === 0 ? {} : { ...extra };
      props.forEach(([k], i) => {
        if (values[i] !== null) o[k] = values[i];
      });
      return o;
    });
}

/** The keywords in `s` and below it. */
function keywords(s: Schema, out = new Set<string>()): Set<string> {
  for (const k of Object.keys(s)) if (KEYWORDS.includes(k)) out.add(k);
  if (s.type) out.add(`type:${s.type}`);
  for (const sub of Object.values(s.properties ?? {})) keywords(sub, out);
  for (const sub of Object.values(s.patternProperties ?? {})) keywords(sub, out);
  if (s.items) keywords(s.items, out);
  for (const sub of s.anyOf ?? []) keywords(sub, out);
  return out;
}

describe("fits", () => {
  it("accepts exactly what walk finds no problem in, on generated schemas and values near them", () => {
    const accepted = new Set<string>();
    const refused = new Set<string>();
    let accepts = 0;
    let refusals = 0;
    fc.assert(
      fc.property(
        genSchema.chain((s) => fc.tuple(fc.constant(s), near(s, 0))),
        ([s, v]) => {
          const f = fits(s, v);
          expect(f).toBe(walkAccepts(s, v));
          for (const k of keywords(s)) (f ? accepted : refused).add(k);
          if (f) accepts++;
          else refusals++;
        },
      ),
      fuzzParams(5000),
    );
    // Both answers came up often, and each keyword was in schemas that accepted and in schemas that refused.
    expect(accepts).toBeGreaterThan(500);
    expect(refusals).toBeGreaterThan(500);
    expect([...accepted].sort()).toEqual([...KEYWORDS].sort());
    expect([...refused].sort()).toEqual([...KEYWORDS].sort());
  });

  it("agrees with walk on the workflow schemas", () => {
    const schemas = [WorkflowFile, Step, ...Object.values(RUN_KINDS)] as unknown as Schema[];
    let accepts = 0;
    fc.assert(
      fc.property(
        fc.nat(schemas.length - 1).chain((i) => fc.tuple(fc.constant(schemas[i]!), near(schemas[i]!, 0))),
        ([s, v]) => {
          const f = fits(s, v);
          expect(f).toBe(walkAccepts(s, v));
          if (f) accepts++;
        },
      ),
      fuzzParams(2000),
    );
    expect(accepts).toBeGreaterThan(50);
  });
});
