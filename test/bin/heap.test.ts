// bin/heap.js in a process of its own (its settings are V8 flags of the whole process): the young generation
// grows under load to 6 MB and no further.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const HEAP = fileURLToPath(new URL("../../bin/heap.js", import.meta.url));

/** The young generation's size (MB) at start and after allocating, with `preload` imported first. */
function youngSizes(preload: string[]): { start: number; loaded: number } {
  const script = `
    import { getHeapSpaceStatistics } from "node:v8";
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 2 ** 20;
    const start = young();
    // Objects that live a while, as runs in flight do: they survive scavenges, which grows the young generation.
    const kept = [];
    let i = 0;
    const chunk = () => {
      for (let k = 0; k < 20000; k++, i++) {
        kept.push({ i, list: [i] });
        if (kept.length > 20000) kept.splice(0, 10000);
      }
      if (i < 1_000_000) setImmediate(chunk);
      else console.log(JSON.stringify({ start, loaded: young() }));
    };
    chunk();`;
  const r = spawnSync(process.execPath, [...preload, "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim());
}

describe("bin/heap.js", () => {
  it("grows the young generation under load from 1 MB to 6 MB, and no further", () => {
    const sized = youngSizes(["--import", HEAP]);
    expect(sized.start).toBe(1);
    expect(sized.loaded).toBe(6);
    // Without it, V8 grows it further.
    expect(youngSizes([]).loaded).toBeGreaterThan(6);
  });
});
