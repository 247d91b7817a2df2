import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const child = (env: Record<string, string>) =>
  spawnSync(process.execPath, ["--import", "tsx", "test/helpers/log-child.ts"], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });

describe("the daemon's stdout logger", () => {
  it("writes lines logged in separate turns together, all of them, in order", () => {
    const r = child({ MODE: "turns", LINES: "10" });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
    // One line a turn was one write a line.
    const writes = Number(/writes (\d+)/.exec(r.stderr)?.[1]);
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(2);
  });

  it("writes what is pending when the process exits", () => {
    const r = child({ MODE: "exit" });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim()).msg).toBe("last words");
  });

  it("does not hold many lines back", () => {
    const r = child({ MODE: "turns", LINES: "600" });
    expect(r.stdout.trim().split("\n")).toHaveLength(600);
    expect(Number(/writes (\d+)/.exec(r.stderr)?.[1])).toBeGreaterThanOrEqual(3);
  });
});
