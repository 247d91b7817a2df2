// The published JSON Schema is generated from the one typebox schema and is up to date; the schema accepts
// the contract's examples and rejects what the contract forbids.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Compile } from "typebox/compile";
import { describe, expect, it } from "vitest";
import { schemaText } from "../../../src/commands/schema.js";
import { jsonSchema, WorkflowFile } from "../../../src/engine/definition/schema.js";

describe("workflow JSON Schema", () => {
  it("schema/workflow.schema.json is the output of `skyflow schema` (regenerate: skyflow schema > schema/workflow.schema.json)", () => {
    const file = readFileSync(join(import.meta.dirname, "../../../schema/workflow.schema.json"), "utf8");
    expect(file).toBe(schemaText());
  });

  it("names every top-level key of the contract and requires on and steps", () => {
    const s = jsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(s.properties).sort()).toEqual(
      [
        "concurrency",
        "defaults",
        "description",
        "enabled",
        "name",
        "on",
        "on_failure",
        "output",
        "steps",
      ].sort(),
    );
    expect(s.required).toEqual(["on", "steps"]);
  });

  it("accepts a contract example and rejects an unknown step key", () => {
    const check = Compile(WorkflowFile);
    const ok = {
      on: { record: { type: "task", when: "${{ event.record.status == 'open' }}" } },
      steps: [{ id: "review", save: { as: "${{ event.record._ownerID }}", record: { _id: "review/1" } } }],
    };
    expect(check.Check(ok)).toBe(true);
    expect(check.Check({ ...ok, steps: [{ publish: { channel: "a" }, retries: 2 }] })).toBe(false);
  });
});
