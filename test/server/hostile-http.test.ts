// Hostile requests against a real server on loopback (issue 20, points 3, 4 and 6): malformed bodies,
// credentials and every parameter of every action (hostile-cases.ts). Each must be refused cleanly (a 4xx
// with a Skygear error and no database message, or per-item errors in a 200 where v1 answers so), write
// nothing, and leave no key, token or password in the log or the answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOSTILE_CASES, seedCases, sendCase } from "./hostile-cases.js";
import { expectNoSecrets, type Hostile, runCase, startHostile } from "./hostile-kit.js";

let h: Hostile;
const texts: string[] = [];

beforeAll(async () => {
  h = await startHostile("hostile_http");
  await seedCases(h);
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe("hostile requests are refused cleanly and write nothing", () => {
  it("has more than 120 cases", () => {
    expect(HOSTILE_CASES.length).toBeGreaterThan(120);
  });

  it.each(HOSTILE_CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    texts.push(await runCase(h.db, "app_testapp", c, () => sendCase(h, c)));
  });

  it("left no key, token or password in the log or an answer, and logged no 5xx", () => {
    expectNoSecrets(h, texts);
    const unexpected = h.lines.filter((l) => l.includes("request failed unexpectedly"));
    expect(unexpected.join("\n").slice(0, 3000)).toBe("");
  });
});
