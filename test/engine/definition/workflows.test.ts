// Every example in workflows/ loads without a problem, so none can rot. Other example files land over time;
// this test picks up whatever is there.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadWorkflowDir } from "../../../src/engine/definition/load.js";
import { formatProblem } from "../../../src/errors.js";

const dir = join(import.meta.dirname, "../../../workflows");

describe("workflows/ examples", () => {
  it("load with no problems and unique names", async () => {
    if (!existsSync(dir)) return;
    const r = await loadWorkflowDir(dir);
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.workflows.length).toBe(r.files.length);
  });
});
