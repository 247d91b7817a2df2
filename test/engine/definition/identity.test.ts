// Identity at load: `as:` normalised (user ids prefixed so no expression can mean master), defaults.as, and
// the warnings for steps acting as master or as a user named by a pubsub message, with their positions.
import { describe, expect, it } from "vitest";
import { withIdentity } from "../../../src/engine/definition/identity.js";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { formatProblem } from "../../../src/errors.js";

function warnings(text: string): string[] {
  const r = loadWorkflowSource("w.yaml", text);
  expect(r.problems.map(formatProblem)).toEqual([]);
  return (r.workflow!.warnings ?? []).map(formatProblem);
}

describe("withIdentity", () => {
  it("prefixes every user id, keeps the literal master, and drops an absent or null as", () => {
    expect(withIdentity("save", { as: "${{ x }}", record: {} }, undefined)).toEqual({
      block: { as: "user/${{ x }}", record: {} },
      from: "step",
      master: false,
    });
    expect(withIdentity("query", { type: "t" }, "master")).toEqual({
      block: { type: "t", as: "master" },
      from: "defaults",
      master: true,
    });
    expect(withIdentity("query", { type: "t", as: null }, "master").block).toEqual({ type: "t" });
    expect(withIdentity("query", { type: "t" }, undefined)).toEqual({ block: { type: "t" }, master: false });
  });

  it("leaves kinds without as alone", () => {
    const block = { channel: "c", as: "x" };
    expect(withIdentity("publish", block, "master").block).toBe(block);
  });
});

describe("identity warnings", () => {
  it("warn for as: master, naming the step and where it is written", () => {
    expect(
      warnings("on: { cron: { schedule: '@daily' } }\nsteps:\n  - query: { type: t, as: master }\n"),
    ).toEqual([
      "w.yaml:3:27: steps[0].query.as: steps[0] (query) acts as master: the master key with no user reads and writes every record, whoever owns it",
    ]);
  });

  it("warn for a user id read from a pubsub message's data, naming the expression", () => {
    const text = [
      "on: { pubsub: { channel: c } }",
      "steps:",
      "  - save:",
      '      as: "${{ event.data.user }}"',
      "      record: { _id: a/b }",
      "  - delete:",
      '      as: "${{ event.record._ownerID }}"',
      "      ids: [a/b]",
      "",
    ].join("\n");
    expect(warnings(text)).toEqual([
      "w.yaml:4:16: steps[0].save.as: steps[0] (save) acts as a user id taken from a pubsub message, ${{ event.data.user }}: anyone holding the API key can publish one and act as any user",
    ]);
  });

  it("do not warn for a user id from a record change, a literal user, or no as", () => {
    const text = [
      "on: { record: { type: task } }",
      "steps:",
      '  - save: { as: "${{ event.record._ownerID }}", record: { _id: a/b } }',
      "  - query: { type: t, as: user/alice }",
      "  - query: { type: t }",
      "",
    ].join("\n");
    expect(warnings(text)).toEqual([]);
  });

  it("warn once per step for defaults.as, located at defaults.as", () => {
    const text = [
      "on: [{ pubsub: { channel: c } }, { cron: { schedule: '@daily' } }]",
      "defaults:",
      '  as: "${{ event.data.who }}"',
      "steps:",
      "  - query: { type: t }",
      "  - publish: { channel: c }",
      "  - action: { name: me, as: null }",
      "  - delete: { ids: [a/b] }",
      "",
    ].join("\n");
    expect(warnings(text)).toEqual([
      "w.yaml:3:12: defaults.as: steps[0] (query) acts as a user id taken from a pubsub message, ${{ event.data.who }}: anyone holding the API key can publish one and act as any user",
      "w.yaml:3:12: defaults.as: steps[3] (delete) acts as a user id taken from a pubsub message, ${{ event.data.who }}: anyone holding the API key can publish one and act as any user",
    ]);
  });

  it("refuse an empty as", () => {
    const r = loadWorkflowSource(
      "w.yaml",
      "on: { pubsub: { channel: c } }\nsteps:\n  - query: { type: t, as: '' }\n",
    );
    expect(r.problems.map(formatProblem).join("\n")).toMatch(/^w\.yaml:3:\d+: steps\[0\]\.query\.as: /);
  });
});
