// src/tier-up.ts in a process of its own (its setting is a V8 flag of the whole process): after
// tierUpSooner(), a function is optimized after fewer calls. Counted in calls, not time (no concurrent
// compiling: each optimization happens on the call that asks for it).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MODULE = fileURLToPath(new URL("../src/tier-up.ts", import.meta.url));

/** Calls of a small function until V8 has optimized it, with tierUpSooner() called first or not. */
function callsToOptimize(sooner: boolean): number {
  const script = `
    const { tierUpSooner } = await import(${JSON.stringify(MODULE)});
    if (${sooner}) tierUpSooner();
    const optimized = new Function("f", "return (%GetOptimizationStatus(f) & 16) !== 0");
    function work(a) { let s = 0; for (let i = 0; i < 20; i++) s += (a * i) % 7; return s; }
    let n = 0;
    for (; n < 100000 && !optimized(work); n++) work(n);
    console.log(n);`;
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--allow-natives-syntax",
      "--no-concurrent-recompilation",
      "--input-type=module",
      "-e",
      script,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

describe("tierUpSooner", () => {
  it("has V8 optimize a hot function after fewer calls", () => {
    const sooner = callsToOptimize(true);
    const usual = callsToOptimize(false);
    expect(usual).toBeLessThan(100000);
    expect(sooner).toBeLessThan(usual / 2);
  });
});
