// The run form of the kinds' schemas (what a step kind's input is checked against before each try) and the
// file form (what the loader checks) come from one definition: a block that loaded with no expression in it
// passes the run check unchanged, and the run form refuses what an expression may give of the wrong type.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkValue } from "../../../src/engine/definition/check-schema.js";
import { withIdentity } from "../../../src/engine/definition/identity.js";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { type LeafKindName, RUN_KINDS } from "../../../src/engine/definition/schema.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const leaf = (k: string): k is LeafKindName => Object.hasOwn(RUN_KINDS, k);

/** Every leaf step's block in a parsed file (inner steps too), as the loader hands it on: `as` settled. */
function leafBlocks(file: Obj): [LeafKindName, unknown][] {
  const defaultAs = isObj(file.defaults) ? file.defaults.as : undefined;
  const out: [LeafKindName, unknown][] = [];
  const visit = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const s of list) {
      if (!isObj(s)) continue;
      visit(s.steps);
      if (isObj(s.parallel)) for (const b of Object.values(s.parallel)) visit(b);
      const kind = Object.keys(s).find(leaf);
      if (!kind) continue;
      let block = withIdentity(kind, s[kind], defaultAs).block;
      // wait_for's match is compiled apart and never part of the input.
      if (kind === "wait_for" && isObj(block)) block = { ...block, match: undefined };
      out.push([kind, JSON.parse(JSON.stringify(block))]);
    }
  };
  visit(file.steps);
  visit(file.on_failure);
  return out;
}

const literal = (v: unknown) => !JSON.stringify(v).includes("${{");

/** A workflow with one step of each leaf kind, every value literal. */
const ALL_KINDS = `
on: { pubsub: { channel: c } }
steps:
  - query: { type: task, database: _private, where: { status: open, priority: { gte: 2 } }, sort: [-priority], limit: 10, offset: 5, count: true, as: user/alice }
  - save: { records: [{ _id: task/t1, title: A }], atomic: true, as: master }
  - save: { record: { _id: task/t2 } }
  - delete: { ids: [task/t1], database: _public }
  - sql: { statement: "SELECT $1::int AS n", params: [1] }
  - publish: { channel: news, data: { a: 1 } }
  - push: { users: [user/alice], topic: t, notification: { apns: { aps: { alert: hi } } } }
  - push: { devices: [d1], notification: {} }
  - action: { name: "record:fetch", params: { ids: [task/t1] } }
  - sleep: 10s
  - sleep: 250
  - sleep: { until: "2027-01-01T00:00:00Z" }
  - wait_for: { record: { type: approval, database: _public, events: [create] }, match: "\${{ incoming.record.task == event.data.id }}", timeout: 1h }
  - wait_for: { pubsub: { channel: done }, match: "\${{ incoming.data.id == event.data.id }}", timeout: 30000 }
  - call: { workflow: other, input: { a: 1 }, wait: false }
`;

describe("the run form of the step kinds' schemas", () => {
  it("accepts every literal block of every kind that the loader accepts", () => {
    const loaded = loadWorkflowSource("all.yaml", ALL_KINDS);
    expect(loaded.problems).toEqual([]);
    const blocks = leafBlocks(parse(ALL_KINDS) as Obj);
    expect(new Set(blocks.map(([k]) => k))).toEqual(new Set(Object.keys(RUN_KINDS)));
    for (const [kind, block] of blocks) {
      const r = checkValue(RUN_KINDS[kind], block, kind);
      expect(r.ok ? [] : r.problems, `${kind}: ${JSON.stringify(block)}`).toEqual([]);
    }
  });

  it("accepts the literal blocks of the example workflows", () => {
    const dir = join(import.meta.dirname, "../../../workflows");
    let checked = 0;
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".yaml") && !f.endsWith(".test.yaml"))) {
      for (const [kind, block] of leafBlocks(parse(readFileSync(join(dir, name), "utf8")) as Obj)) {
        if (!literal(block)) continue;
        const r = checkValue(RUN_KINDS[kind], block, kind);
        expect(r.ok ? [] : r.problems, `${name} ${kind}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("refuses a value of the wrong type, naming its key, and reads an optional null as absent", () => {
    const problems = (kind: LeafKindName, v: unknown) => {
      const r = checkValue(RUN_KINDS[kind], v, kind);
      return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
    };
    expect(problems("save", { record: "task/t1" })).toEqual([
      'save.record: expected a mapping or nothing (null), got "task/t1"',
    ]);
    expect(problems("query", { type: "task", limit: -1 })).toEqual([
      "query.limit: must be at least 0, got -1",
    ]);
    expect(problems("call", { workflow: "" })).toEqual(["call.workflow: must not be empty"]);
    expect(problems("sleep", [1])).toHaveLength(1);
    expect(problems("query", { type: "task", limit: null, where: null, as: null })).toEqual([]);
    // A required key stays required: null is not absent there.
    expect(problems("publish", { channel: null })).toHaveLength(1);
  });
});
