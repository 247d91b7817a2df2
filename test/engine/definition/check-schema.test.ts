// The loader's schema walk (check-schema.ts) accepts exactly what typebox's compiled check of the same
// schema accepts, on the example workflows and on random mutations of them (fast-check, fixed seed): the
// daemon validates with the walk alone and never loads the compiled check. No I/O.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Compile } from "typebox/compile";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkSchema, checkValue, innerSteps } from "../../../src/engine/definition/check-schema.js";
import { KIND_NAMES, RUN_KINDS, Step, WorkflowFile } from "../../../src/engine/definition/schema.js";

const compiledFile = Compile(WorkflowFile);
const compiledStep = Compile(Step);
const typeboxAccepts = (v: unknown) =>
  compiledFile.Check(v) && innerSteps(v).every(([, s]) => compiledStep.Check(s));
const walkAccepts = (v: unknown) => checkSchema(v, (p, k) => (p ? `${p}.${k}` : k)).length === 0;

const EXAMPLES = readdirSync("workflows")
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".test.yaml"))
  .map((f) => parse(readFileSync(join("workflows", f), "utf8")) as unknown);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every [container, key] in `v` (arrays by index), the root excluded. */
function slots(v: Json, out: [Json[] | Record<string, Json>, string | number][] = []) {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      out.push([v, i]);
      slots(v[i]!, out);
    }
  } else if (v && typeof v === "object") {
    for (const k of Object.keys(v)) {
      out.push([v, k]);
      slots(v[k]!, out);
    }
  }
  return out;
}

const KEYS = [
  ...KIND_NAMES,
  "id",
  "if",
  "steps",
  "on",
  "on_failure",
  "retry",
  "timeout",
  "max_attempts",
  "backoff",
  "record",
  "type",
  "events",
  "cron",
  "channel",
  "concurrency",
  "limit",
  "key",
  "output",
  "foreach",
  "parallel",
  "continue_on_error",
  "bogus",
];
const VALUES: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    1,
    -1,
    2.5,
    1e9,
    "",
    "5s",
    "10m",
    "${{ event.id }}",
    "task",
    "x",
  ),
  fc.constantFrom<Json>([], {}, ["create"], [{}], { type: "task" }, Number.NaN, Number.POSITIVE_INFINITY),
  fc.jsonValue() as fc.Arbitrary<Json>,
);

const mutation = fc.record({
  example: fc.nat(),
  edits: fc.array(
    fc.record({
      at: fc.nat(),
      op: fc.constantFrom("set", "delete", "add"),
      key: fc.constantFrom(...KEYS),
      value: VALUES,
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

describe("checkSchema", () => {
  it("accepts every example workflow, as typebox does", () => {
    for (const v of EXAMPLES) {
      expect(typeboxAccepts(v)).toBe(true);
      expect(walkAccepts(v)).toBe(true);
    }
  });

  it("accepts exactly what typebox's compiled check accepts, on mutated examples", () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(mutation, ({ example, edits }) => {
        const v = structuredClone(EXAMPLES[example % EXAMPLES.length]) as Json;
        for (const e of edits) {
          const all = slots(v);
          if (all.length === 0) break;
          const [parent, key] = all[e.at % all.length]!;
          // A copy: fast-check replays its values while shrinking, and the edits below change objects in place.
          const value = structuredClone(e.value);
          if (e.op === "set") (parent as Record<string, Json>)[key] = value;
          else if (e.op === "delete" && !Array.isArray(parent)) delete parent[key as string];
          else if (e.op === "add") {
            const target = (parent as Record<string, Json>)[key];
            if (target && typeof target === "object" && !Array.isArray(target)) target[e.key] = value;
          }
        }
        const t = typeboxAccepts(v);
        if (t) accepted++;
        else refused++;
        expect(walkAccepts(v)).toBe(t);
      }),
      { seed: 20_261_206, numRuns: 3000 },
    );
    // Both sides of the comparison were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it("checkValue accepts exactly what the compiled check accepts, on random inputs of every kind's run form", () => {
    let accepted = 0;
    let refused = 0;
    const kinds = Object.entries(RUN_KINDS);
    const STRINGS = [
      "",
      "task",
      "task/1",
      "x/y",
      "5s",
      "SELECT 1",
      "INSERT INTO t VALUES ($1)",
      "master",
      "ch",
    ];
    const leaf: fc.Arbitrary<Json> = fc.oneof(
      VALUES,
      fc.constantFrom<Json>(...STRINGS),
      fc.array(fc.constantFrom<Json>(...STRINGS, 1, null, { _id: "task/1" }), { maxLength: 3 }),
      fc.dictionary(
        fc.constantFrom("_id", "title", "type", "a", "$gt"),
        fc.constantFrom<Json>(...STRINGS, 1),
      ),
    );
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), leaf), { maxLength: 6 }),
        fc.option(fc.constantFrom(...KEYS)),
        (k, picks, extra) => {
          const [, schema] = kinds[k % kinds.length]!;
          const props = Object.keys((schema as { properties?: object }).properties ?? {});
          const v: Record<string, Json> = {};
          for (const [i, value] of picks)
            if (props.length > 0) v[props[i % props.length]!] = structuredClone(value);
          if (extra) v[extra] = "x";
          const t = Compile(schema).Check(v);
          if (t) accepted++;
          else refused++;
          expect(checkValue(schema, v, "input").ok).toBe(t);
        },
      ),
      { seed: 20_261_206, numRuns: 3000 },
    );
    // Most random inputs miss a required key: a few dozen of 3,000 conform.
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(100);
  });
});
