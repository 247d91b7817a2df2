// The original server's handler test cases (cases.ts), replayed against `skyflow serve` and the real Skygear
// v1.7.3 server: every step's answer must be the same after normalising ids, timestamps and tokens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPLAY_CASES } from "./cases.js";
import { both, describeDiff, type Pair, startPair } from "./harness.js";

const started = await startPair("replay");
const pair: Pair | undefined = started.ok ? started.pair : undefined;

describe.skipIf(!pair)("replayed handler tests: skyflow serve against the real Skygear v1.7.3", () => {
  beforeAll(async () => {
    for (const u of ["alice", "bob", "carol"]) {
      await pair!.real.signup(u);
      await pair!.sky.signup(u);
    }
  }, 60_000);
  afterAll(async () => {
    await pair?.stop();
  });

  it("has the cases the issue counts", () => {
    expect(REPLAY_CASES.length).toBeGreaterThanOrEqual(86);
  });

  for (const c of REPLAY_CASES) {
    it(c.name, async () => {
      const seen = { sky: new Map<string, string>(), real: new Map<string, string>() };
      for (const [i, step] of c.steps.entries()) {
        const r = await both(pair!, step, seen);
        if (!r.same) expect.fail(describeDiff(`step ${i + 1}`, step, r));
      }
    });
  }
});

if (!started.ok) {
  describe("replayed handler tests", () => {
    it.skip(`skipped: the real Skygear server cannot start: ${started.reason}`, () => {});
  });
}
