import { describe, expect, it } from "vitest";
import { splitMatch, splitTopLevel } from "../../../src/engine/park/match-split.js";

describe("splitMatch", () => {
  it("finds the incoming == run equality among && conjuncts, on either side", () => {
    expect(splitMatch("incoming.record.task == event.record._id && incoming.record.approved")).toEqual({
      incoming: "incoming.record.task",
      run: "event.record._id",
      rest: ["incoming.record.approved"],
    });
    expect(splitMatch("incoming.data.ok && (steps.a.output.id == incoming.data['id'])")).toEqual({
      incoming: "incoming.data['id']",
      run: "steps.a.output.id",
      rest: ["incoming.data.ok"],
    });
  });

  it("refuses a match without a usable equality", () => {
    expect(splitMatch("incoming.record.task == event.record._id || true")).toBeUndefined();
    expect(splitMatch("incoming.record.a == incoming.record.b")).toBeUndefined();
    expect(splitMatch("incoming.record.task == event.record._id + incoming.record.x")).toBeUndefined();
    expect(splitMatch("incoming.record.n != event.record.n")).toBeUndefined();
    expect(splitMatch("event.a == 'x' && incoming.record.ok")).toBeUndefined();
    expect(splitMatch("incoming.record.task == event.record._id ? true : false")).toBeUndefined();
  });

  it("ignores operators inside strings and brackets", () => {
    expect(splitTopLevel("a == 'x && y' && f(b && c)", "&&")).toEqual(["a == 'x && y'", "f(b && c)"]);
    expect(splitMatch("incoming.data.k == 'a == b && c'")).toEqual({
      incoming: "incoming.data.k",
      run: "'a == b && c'",
      rest: [],
    });
  });

  it("prefers an equality with the run to one with a constant", () => {
    expect(
      splitMatch("incoming.record.status == 'approved' && incoming.record.task == event.record._id"),
    ).toMatchObject({ incoming: "incoming.record.task", run: "event.record._id" });
  });
});
