// src/collect-garbage.ts in a process of its own, started without --expose-gc: a full collection runs within
// the call, an object no longer referenced is gone after it, and later contexts get no gc() from it.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MODULE = fileURLToPath(new URL("../src/collect-garbage.ts", import.meta.url));

describe("collectGarbage", () => {
  it("runs a full collection within the call, in a process started without --expose-gc", () => {
    const script = `
      const { collectGarbage } = await import(${JSON.stringify(MODULE)});
      const { runInNewContext } = await import("node:vm");
      const { PerformanceObserver, performance, constants } = await import("node:perf_hooks");
      const seen = [];
      new PerformanceObserver((l) => seen.push(...l.getEntries())).observe({ entryTypes: ["gc"] });
      let big = { data: new Array(1000).fill("x") };
      const ref = new WeakRef(big);
      big = undefined;
      // A WeakRef keeps its target for the rest of the job that made it.
      await new Promise((r) => setTimeout(r, 10));
      const t0 = performance.now();
      const collected = collectGarbage();
      const t1 = performance.now();
      await new Promise((r) => setTimeout(r, 50));
      const major = seen.some((e) => e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR &&
        e.startTime >= t0 && e.startTime <= t1);
      console.log(JSON.stringify({ collected, major, gone: ref.deref() === undefined,
        gcLater: runInNewContext("typeof gc"), gcHere: typeof globalThis.gc }));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(r.stderr);
    expect(JSON.parse(r.stdout.trim())).toEqual({
      collected: true,
      major: true,
      gone: true,
      gcLater: "undefined",
      gcHere: "undefined",
    });
  });
});
