// Pure record-trigger logic on literal inputs: outbox rows -> changes, matching, the loop guard's verdict.
import { describe, expect, it } from "vitest";
import {
  loopVerdict,
  matchRecordChange,
  planChange,
  recordEvent,
} from "../../../src/engine/triggers/record/match.js";
import { hasUnknownColumn, parseOutboxRow, watchedTypes } from "../../../src/engine/triggers/record/parse.js";
import { when, workflow } from "./helpers.js";

const row = {
  id: "42",
  op: "update",
  schema_name: "app_x",
  record_type: "task",
  record_key: "k1",
  database_id: "",
  new_row: { _id: "k1", _owner_id: "u1", _access: null, title: "new", due: "2026-01-02T03:04:05.5" },
  old_row: { _id: "k1", _owner_id: "u1", _access: null, title: "old" },
  txid: "90001",
  at: new Date("2026-01-02T03:04:05Z"),
};
const cols = new Map([
  ["title", { type: "string" as const }],
  ["due", { type: "date" as const }],
]);
const opts = { env: {}, now: new Date(), loopDepth: 2, onWhenError: () => {} };

describe("record parse and match", () => {
  it("maps an outbox row to a change with an id built from the transaction and the outbox row", () => {
    const c = parseOutboxRow(row);
    expect(c).toMatchObject({ op: "update", recordType: "task", key: "k1", databaseId: "" });
    expect(c.eventId).toBe("task/k1:update:90001.42");
  });

  it("encodes record and original and matches type, op, database and `when`", () => {
    const c = parseOutboxRow(row);
    const wfs = [
      workflow("any_update", [{ kind: "record", type: "task", database: "_any", events: ["update"] }]),
      workflow("private_only", [{ kind: "record", type: "task", database: "_private", events: ["update"] }]),
      workflow("creates", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
      workflow("renamed", [
        {
          kind: "record",
          type: "task",
          database: "_public",
          events: ["update"],
          when: when("event.original.title == 'old'"),
        },
      ]),
      workflow(
        "disabled",
        [{ kind: "record", type: "task", database: "_public", events: ["update"] }],
        false,
      ),
    ];
    const p = planChange(c, cols, undefined, wfs, opts);
    expect(p.runs.map((r) => r.workflow.name)).toEqual(["any_update", "renamed"]);
    expect(p.runs[0]!.event).toMatchObject({
      database: "_public",
      record: {
        _id: "task/k1",
        _ownerID: "u1",
        title: "new",
        due: { $type: "date", $date: "2026-01-02T03:04:05.5Z" },
      },
      original: { title: "old" },
    });
    expect(p.runs[0]!.depth).toBe(0);
  });

  it("treats a failing `when` as no match and reports it", () => {
    const c = parseOutboxRow(row);
    const errors: string[] = [];
    const wf = workflow("bad", [
      {
        kind: "record",
        type: "task",
        database: "_public",
        events: ["update"],
        when: when("event.record.missing.deeper == 1"),
      },
    ]);
    const event = recordEvent(c, { _id: "task/k1" }, null);
    expect(matchRecordChange(c, event, [wf], {}, new Date(), (w) => errors.push(w.name))).toEqual([]);
    expect(errors).toEqual(["bad"]);
  });

  it("blocks runs past the loop depth and names them", () => {
    const c = parseOutboxRow(row);
    const wf = workflow("loop", [{ kind: "record", type: "task", database: "_public", events: ["update"] }]);
    expect(planChange(c, cols, 1, [wf], opts).runs[0]!.depth).toBe(2);
    expect(planChange(c, cols, 2, [wf], opts)).toEqual({
      runs: [],
      blocked: [{ workflow: "loop", record: "task/k1", depth: 3 }],
    });
    expect(loopVerdict(undefined, 0)).toEqual({ depth: 0, allowed: true });
  });

  it("lists watched types of enabled workflows and spots columns the cache lacks", () => {
    const wfs = [
      workflow("a", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
      workflow("b", [{ kind: "record", type: "note", database: "_public", events: ["create"] }], false),
    ];
    expect([...watchedTypes(wfs)]).toEqual(["task"]);
    expect(hasUnknownColumn({ _id: "x", title: "t" }, cols)).toBe(false);
    expect(hasUnknownColumn({ _id: "x", extra: 1 }, cols)).toBe(true);
  });
});
