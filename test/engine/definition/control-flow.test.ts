// Load-time checks of foreach, parallel, sleep, wait_for, call and the top-level output: each problem is
// reported as file:line:column with its YAML path, and a good file loads with the tree of steps.
import { describe, expect, it } from "vitest";
import { directoryChecks, loadWorkflowSource } from "../../../src/engine/definition/load.js";
import type { WorkflowDefinition } from "../../../src/engine/definition/types.js";
import { formatProblem } from "../../../src/errors.js";

const HEAD = 'on: { cron: { schedule: "@daily" } }\n';

function problems(text: string, file = "w.yaml"): string[] {
  return loadWorkflowSource(file, HEAD + text).problems.map(formatProblem);
}

function load(text: string, file = "w.yaml"): WorkflowDefinition {
  const r = loadWorkflowSource(file, text.startsWith("on:") ? text : HEAD + text);
  expect(r.problems.map(formatProblem)).toEqual([]);
  return r.workflow!;
}

describe("control flow at load", () => {
  it("loads a foreach with its inner steps, item name, index and concurrency", () => {
    const w = load(`steps:
  - id: overdue
    query: { type: task }
  - id: remind
    foreach: \${{ steps.overdue.output.records }}
    item: task
    concurrency: 5
    steps:
      - id: tell
        publish: { channel: c, data: { t: "\${{ task.title }}", i: "\${{ index }}", all: "\${{ steps.overdue.output }}" } }
      - publish: { channel: c, data: "\${{ steps.tell.output }}" }
output: \${{ steps.remind.output.items }}
`);
    const f = w.steps[1]!;
    expect(f.kind).toBe("foreach");
    expect(f.foreach?.item).toBe("task");
    expect(f.foreach?.concurrency).toBe(5);
    expect(f.foreach?.steps.map((s) => s.key)).toEqual(["tell", "steps[1]"]);
    expect(w.output).toBeDefined();
  });

  it("loads parallel branches in file order and sleep, wait_for and call steps", () => {
    const w = load(`on: [{ call: {} }, { record: { type: task } }]
steps:
  - id: fan
    parallel:
      notify:
        - publish: { channel: tasks, data: { id: "\${{ event.record._id }}" } }
      audit:
        - id: log
          save: { record: { _id: "audit/\${{ uuid() }}" } }
  - sleep: 10m
  - sleep: { until: "\${{ timestamp(event.record.due) }}" }
  - id: approval
    wait_for:
      record: { type: approval, events: [create, update] }
      match: \${{ incoming.record.task == event.record._id && incoming.record.approved }}
      timeout: 2d
`);
    expect(w.steps[0]!.parallel?.branches.map((b) => b.name)).toEqual(["notify", "audit"]);
    expect(w.steps[0]!.parallel!.branches[1]!.steps[0]!.key).toBe("log");
    expect(w.steps[3]!.match?.source).toContain("incoming.record.task");
    expect(w.triggers[0]).toEqual({ kind: "call" });
  });

  it("refuses an item name or index outside its foreach, naming where the item is defined", () => {
    expect(
      problems(`steps:
  - foreach: [1, 2]
    item: task
    steps:
      - publish: { channel: c, data: "\${{ task }}" }
  - publish: { channel: c, data: "\${{ task }}" }
  - publish: { channel: c, data: "\${{ index }}" }
`),
    ).toEqual([
      "w.yaml:7:39: steps[1].publish.data: task is the item name of the foreach at steps[0]: only available inside its steps",
      "w.yaml:8:39: steps[2].publish.data: index is only available inside a foreach's steps (the item's position)",
    ]);
  });

  it("refuses incoming outside match and a match without a lookup equality", () => {
    expect(
      problems(`steps:
  - wait_for:
      pubsub: { channel: approvals }
      match: \${{ incoming.data.ok && event.id != '' }}
      timeout: 1h
  - publish: { channel: c, data: "\${{ incoming.data }}" }
`),
    ).toEqual([
      "w.yaml:5:18: steps[0].wait_for.match: match needs, joined by && at its top, an == between an expression of incoming alone and one without incoming (e.g. incoming.record.task == event.record._id): waiting runs are found by that value",
      "w.yaml:7:39: steps[1].publish.data: incoming is only available in wait_for's match (the arriving event)",
    ]);
  });

  it("refuses a wait_for without timeout, durations over 365 days, and a one-branch parallel", () => {
    expect(
      problems(`steps:
  - wait_for: { pubsub: { channel: a }, match: "\${{ incoming.data.id == event.id }}" }
  - sleep: 366d
  - wait_for: { pubsub: { channel: a }, match: "\${{ incoming.data.id == event.id }}", timeout: 400d }
  - parallel:
      only:
        - publish: { channel: c }
`),
    ).toEqual([
      'w.yaml:3:15: steps[0].wait_for: missing required key "timeout"',
      "w.yaml:4:12: steps[1].sleep: a duration of at most 365d, got 366d",
      "w.yaml:5:96: steps[2].wait_for.timeout: a duration of at most 365d, got 400d",
      "w.yaml:7:7: steps[3].parallel: a parallel needs at least two branches (one branch is a plain list of steps)",
    ]);
  });

  it("refuses inner step ids that collide anywhere in the workflow, and checks inner steps' schema", () => {
    expect(
      problems(`steps:
  - id: tell
    publish: { channel: c }
  - foreach: [1]
    steps:
      - id: tell
        publish: { channel: c }
      - publish: { chanel: c }
  - parallel:
      a: [{ id: tell, publish: { channel: c } }]
      b: [{ publish: { channel: c } }]
`),
    ).toEqual([
      'w.yaml:7:13: steps[1].steps[0].id: duplicate step id "tell", already used by steps[0]',
      'w.yaml:9:18: steps[1].steps[1].publish: missing required key "channel"',
      'w.yaml:9:20: steps[1].steps[1].publish.chanel: unknown key "chanel" (did you mean "channel"?)',
      'w.yaml:11:17: steps[2].parallel.a[0].id: duplicate step id "tell", already used by steps[0]',
    ]);
  });

  it("refuses an inner step's read of a later or sibling-branch step, and foreach keys on other kinds", () => {
    expect(
      problems(`steps:
  - parallel:
      a:
        - id: one
          publish: { channel: c }
      b:
        - publish: { channel: c, data: "\${{ steps.one.output }}" }
  - publish: { channel: c }
    item: x
`),
    ).toEqual([
      "w.yaml:8:45: steps[0].parallel.b[0].publish.data: steps.one is not an earlier step's id (no earlier step has an id)",
      "w.yaml:10:11: steps[1].item: item belongs to a foreach step",
    ]);
  });

  it("refuses a call to a missing workflow, to one without on: call, and static call cycles", () => {
    const wf = (file: string, text: string) => loadWorkflowSource(file, text).workflow!;
    const list = [
      wf("a.yaml", `${HEAD}steps:\n  - call: { workflow: b }\n  - call: { workflow: nope }\n`),
      wf("b.yaml", "on: { call: {} }\nsteps:\n  - call: { workflow: c }\n"),
      wf("c.yaml", "on: { call: {} }\nsteps:\n  - call: { workflow: b }\n"),
      wf("d.yaml", `${HEAD}steps:\n  - call: { workflow: a }\n`),
    ];
    const r = directoryChecks(list);
    expect(r.problems.map(formatProblem)).toEqual([
      'a.yaml:4:23: steps[1].call.workflow: call to a missing workflow "nope"',
      "b.yaml:3:23: steps[0].call.workflow: call cycle: b -> c -> b",
      "c.yaml:3:23: steps[0].call.workflow: call cycle: c -> b -> c",
      'd.yaml:3:23: steps[0].call.workflow: workflow "a" cannot be called: its `on` has no call trigger (add - call: {})',
    ]);
    expect(r.workflows).toEqual([]);
  });
});
