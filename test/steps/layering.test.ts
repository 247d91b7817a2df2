// House style: step kinds never import the engine (the engine knows them through src/steps/registry.ts);
// a step file may name the engine's types (erased), nothing it runs.
import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

describe("src/steps", () => {
  it("imports nothing from the engine but types", async () => {
    const dir = new URL("../../src/steps/", import.meta.url);
    const offending: string[] = [];
    for (const name of await readdir(dir)) {
      if (!name.endsWith(".ts")) continue;
      const text = await readFile(new URL(name, dir), "utf8");
      for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms))
        if (!m[1] && m[2]!.includes("/engine/")) offending.push(`${name}: ${m[2]}`);
    }
    expect(offending).toEqual([]);
  });
});
