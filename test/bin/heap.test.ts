// bin/heap.js in a process of its own (its settings are V8 flags of the whole process): the young generation
// grows under load to 6 MB and no further, and not while a daemon starts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const HEAP = fileURLToPath(new URL("../../bin/heap.js", import.meta.url));

const LOAD = `
    import { getHeapSpaceStatistics } from "node:v8";
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 2 ** 20;
    // Objects that live a while, as runs in flight do: they survive scavenges, which grows the young generation.
    const load = () =>
      new Promise((resolve) => {
        const kept = [];
        let i = 0;
        const chunk = () => {
          for (let k = 0; k < 20000; k++, i++) {
            kept.push({ i, list: [i] });
            if (kept.length > 20000) kept.splice(0, 10000);
          }
          if (i < 1_000_000) setImmediate(chunk);
          else resolve(young());
        };
        chunk();
      });`;

function run(preload: string[], script: string, argv: string[] = []): Record<string, number> {
  const file = join(mkdtempSync(join(tmpdir(), "skyflow-heap-")), "load.mjs");
  writeFileSync(file, `${LOAD}\n${script}`);
  const r = spawnSync(process.execPath, [...preload, file, ...argv], { encoding: "utf8" });
  rmSync(dirname(file), { recursive: true, force: true });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim());
}

/** The young generation's size (MB) at start and after allocating, with `preload` imported first. */
const youngSizes = (preload: string[]) =>
  run(preload, "const start = young(); console.log(JSON.stringify({ start, loaded: await load() }));");

describe("bin/heap.js", () => {
  it("grows the young generation under load from 1 MB to 6 MB, and no further", () => {
    const sized = youngSizes(["--import", HEAP]);
    expect(sized.start).toBe(1);
    expect(sized.loaded).toBe(6);
    // Without it, V8 grows it further.
    expect(youngSizes([]).loaded).toBeGreaterThan(6);
  });

  it("holds it at its initial size while a daemon starts, until the daemon says it has started", () => {
    const script = `
      const starting = await load();
      process.emit("skyflow:started");
      console.log(JSON.stringify({ starting, started: await load() }));`;
    // Held: its two 1 MB semi-spaces, both in use after the first scavenge.
    expect(run(["--import", HEAP], script, ["start"])).toEqual({ starting: 2, started: 6 });
    expect(run(["--import", HEAP], script, ["dev"])).toEqual({ starting: 2, started: 6 });
    // Any other command is not held.
    expect(run(["--import", HEAP], script, ["test"]).starting).toBe(6);
  });
});
