import { describe, expect, it } from "vitest";
import { completeStep, markRunning, newRunState } from "../../../src/engine/state.js";
import { snapshotJSON } from "../../../src/engine/store/save.js";
import { step, workflow } from "../fixtures/defs.js";

describe("snapshotJSON", () => {
  it("is the state's JSON, also for entries serialized by an earlier save", () => {
    const wf = workflow("w", [step("probe", {}), step("probe", {}), step("probe", {})]);
    const [a, b] = wf.steps.map((s) => s.key);
    let s = markRunning(newRunState("2026-11-29T00:00:00.000Z"), a!, 1);
    expect(JSON.parse(snapshotJSON(s))).toEqual(JSON.parse(JSON.stringify(s)));
    s = completeStep(wf, s, { status: "succeeded", output: { rows: [{ n: 1, ['quote"d']: "x\ny" }] } });
    s = markRunning(s, b!, 1);
    expect(JSON.parse(snapshotJSON(s))).toEqual(JSON.parse(JSON.stringify(s)));
    s = completeStep(wf, s, { status: "failed", error: { name: "E", message: "m" } });
    expect(JSON.parse(snapshotJSON(s))).toEqual(JSON.parse(JSON.stringify(s)));
    expect(JSON.parse(snapshotJSON(newRunState("t")))).toEqual(newRunState("t"));
  });
});
