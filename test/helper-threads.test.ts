// src/helper-threads.ts in a process of its own (nice values are the process's threads'): after
// lowerHelperThreads(), every thread but the main one has the nice value asked for, and the main thread keeps
// its own. Linux only: elsewhere there is no /proc/self/task and the function changes nothing.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MODULE = fileURLToPath(new URL("../src/helper-threads.ts", import.meta.url));

/** Each thread's nice value in a fresh Node process, before and after lowerHelperThreads(nice). */
function niceValues(nice: number, prefix: string[] = []) {
  const script = `
    const { lowerHelperThreads } = await import(${JSON.stringify(MODULE)});
    const { readdirSync } = await import("node:fs");
    const { getPriority } = await import("node:os");
    const all = () => Object.fromEntries(readdirSync("/proc/self/task").map((t) => [t, getPriority(Number(t))]));
    const before = all();
    const lowered = lowerHelperThreads(${nice});
    console.log(JSON.stringify({ pid: process.pid, before, lowered, after: all() }));`;
  const r = spawnSync(
    prefix[0] ?? process.execPath,
    [
      ...prefix.slice(1),
      ...(prefix.length ? [process.execPath] : []),
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      script,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim()) as {
    pid: number;
    before: Record<string, number>;
    lowered: number;
    after: Record<string, number>;
  };
}

describe.runIf(existsSync("/proc/self/task"))("lowerHelperThreads", () => {
  it("lowers every thread but the main one, and leaves the main one", () => {
    const r = niceValues(19);
    const helpers = Object.keys(r.after).filter((t) => Number(t) !== r.pid);
    // Node starts V8's platform threads (four by default) and its delayed-task thread before any script.
    expect(helpers.length).toBeGreaterThanOrEqual(4);
    for (const t of helpers) expect(r.before[t]).toBe(0);
    for (const t of helpers) expect(r.after[t]).toBe(19);
    expect(r.lowered).toBe(helpers.length);
    expect(r.after[String(r.pid)]).toBe(0);
  });

  it("never raises a thread's priority: threads already lower are left", () => {
    // Under `nice -n 12` every thread starts at 12; asking for 5 would raise them.
    const r = niceValues(5, ["nice", "-n", "12"]);
    expect(r.lowered).toBe(0);
    for (const v of Object.values(r.after)) expect(v).toBe(12);
    const s = niceValues(15, ["nice", "-n", "12"]);
    for (const [t, v] of Object.entries(s.after)) expect(v).toBe(Number(t) === s.pid ? 12 : 15);
  });
});
