// How tries are shown beyond their rows: literal inputs, no database.
import { describe, expect, it } from "vitest";
import { onFirstStep, parkedStatus, parkedSteps } from "../../../src/engine/store/shown-steps.js";

describe("onFirstStep", () => {
  it("holds for a running run with no try stored and no step saved", () => {
    expect(onFirstStep("running", null, 0)).toBe(true);
    expect(onFirstStep("running", { steps: {} }, 0)).toBe(true);
  });

  it("does not hold once a try or a step is saved, or when the run is not running", () => {
    expect(onFirstStep("running", null, 1)).toBe(false);
    expect(onFirstStep("running", { steps: { a: { status: "succeeded" } } }, 0)).toBe(false);
    expect(onFirstStep("pending", null, 0)).toBe(false);
    expect(onFirstStep("failed", null, 0)).toBe(false);
  });
});

describe("parkedStatus", () => {
  const began = "2026-01-01T00:00:00Z";
  it("shows an open try of a parked step as sleeping or waiting, and leaves the rest as stored", () => {
    const parked = parkedSteps("sleeping", { kind: "sleep", step: "nap", began }, undefined);
    expect(parkedStatus("running", null, parked.get("nap"))).toBe("sleeping");
    expect(parkedStatus("succeeded", began, parked.get("nap"))).toBe("succeeded");
    expect(parkedStatus("running", null, parked.get("other"))).toBe("running");
    const live = parkedSteps("running", null, {
      "fan.a": { status: "running", park: { kind: "wait_for" } },
    });
    expect(parkedStatus("running", null, live.get("fan.a"))).toBe("waiting");
  });
});
