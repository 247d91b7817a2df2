// The loader's schema walk (check-schema.ts) accepts exactly what typebox's compiled check of the same
// schema accepts, on the example workflows and on random mutations of them (fast-check, fixed seed): the
// daemon validates with the walk alone and never loads the compiled check. No I/O.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Compile } from "typebox/compile";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkSchema, innerSteps } from "../../../src/engine/definition/check-schema.js";
import { KIND_NAMES, Step, WorkflowFile } from "../../../src/engine/definition/schema.js";

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
});
