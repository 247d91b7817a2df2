// Inner waits on a manual clock, through `skyflow test` in-process: two foreach items that each sleep 2h park
// the run (still sleeping a minute before), wait for a nod, and time out after a day of the test's clock;
// one nod releases both items of a run (one event, several waits).
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { command } from "../../../src/commands/test.js";
import { runCommand } from "../../helpers/command.js";

const DIR = fileURLToPath(new URL("./fixtures-inner", import.meta.url));

describe("inner waits on the test's manual clock", () => {
  it("sleeps end and timeouts fire as the clock moves; one nod releases both items", async () => {
    const r = await runCommand(command, [], { DATABASE_URL: inject("databaseUrl") }, DIR);
    expect(r.out).toContain("ok   inner sleeps and an inner wait_for timeout move with the clock");
    expect(r.out).toContain("ok   a nod releases both waiting items");
    expect(r.out).toMatch(/\n2 passed, 0 failed/);
    expect(r.code).toBe(0);
  }, 60_000);
});
