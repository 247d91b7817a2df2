// The broken-file corpus: every file under test/fixtures/broken yields exactly the problems in its sibling
// .expected file (one formatted problem per line), and no workflow.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { formatProblem } from "../../../src/errors.js";

const dir = join(import.meta.dirname, "../../fixtures/broken");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("broken workflow corpus", () => {
  it("has at least 40 files, each with an .expected file", () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    for (const f of files) expect(readdirSync(dir)).toContain(f.replace(/\.yaml$/, ".expected"));
  });

  it.each(files)("%s gives exactly its expected problems", (f) => {
    const text = readFileSync(join(dir, f), "utf8");
    const expected = readFileSync(join(dir, f.replace(/\.yaml$/, ".expected")), "utf8")
      .trimEnd()
      .split("\n");
    const r = loadWorkflowSource(f, text, { envAllow: ["REGION"] });
    expect(r.workflow).toBeUndefined();
    expect(r.problems.map(formatProblem)).toEqual(expected);
  });
});
