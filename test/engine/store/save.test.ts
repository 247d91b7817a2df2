import { describe, expect, it } from "vitest";
import {
  completeStep,
  markRunning,
  newRunState,
  type RunState,
  withOutputs,
} from "../../../src/engine/state.js";
import { snapshotJSON } from "../../../src/engine/store/save.js";
import { step, workflow } from "../fixtures/defs.js";

/** The state as the snapshot should hold it: every step entry without its output. */
const withoutOutputs = (s: RunState) =>
  JSON.parse(
    JSON.stringify({
      ...s,
      steps: Object.fromEntries(Object.entries(s.steps).map(([k, { output: _o, ...e }]) => [k, e])),
    }),
  );

describe("snapshotJSON", () => {
  it("is the state's JSON without the outputs, also for entries serialized by an earlier save", () => {
    const wf = workflow("w", [step("probe", {}), step("probe", {}), step("probe", {})]);
    const [a, b] = wf.steps.map((s) => s.key);
    let s = markRunning(newRunState("2026-11-29T00:00:00.000Z"), a!, 1);
    expect(JSON.parse(snapshotJSON(s))).toEqual(JSON.parse(JSON.stringify(s)));
    s = completeStep(wf, s, { status: "succeeded", output: { rows: [{ n: 1, ['quote"d']: "x\ny" }] } });
    s = markRunning(s, b!, 1);
    const saved = JSON.parse(snapshotJSON(s));
    expect(saved).toEqual(withoutOutputs(s));
    expect(saved.steps[a!]).toEqual({ status: "succeeded", attempts: 1 });
    s = completeStep(wf, s, { status: "failed", error: { name: "E", message: "m" } });
    expect(JSON.parse(snapshotJSON(s))).toEqual(withoutOutputs(s));
    expect(JSON.parse(snapshotJSON(newRunState("t")))).toEqual(newRunState("t"));
  });

  it("gets its outputs back from the tries (withOutputs), for succeeded steps only", () => {
    const wf = workflow("w", [step("probe", {}), step("probe", {})]);
    const [a, b] = wf.steps.map((s) => s.key);
    let s = completeStep(wf, markRunning(newRunState("t"), a!, 1), { status: "succeeded", output: { n: 1 } });
    s = markRunning(s, b!, 2);
    const restored = withOutputs(JSON.parse(snapshotJSON(s)), new Map([[a!, { n: 1 }]]));
    expect(restored).toEqual(JSON.parse(JSON.stringify(s)));
  });
});
