import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimRuns } from "../../../src/engine/store/claim.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { storedRuns } from "../fixtures/defs.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("store_claim");
});
afterAll(async () => {
  await db.drop();
});

describe("claimRuns", () => {
  it("takes in-flight runs to resume only when asked to look for them; pending runs always", async () => {
    // A run whose engine died (its lease ran out), and a new one.
    const [orphan] = await storedRuns(db.pool, ["orphan"], "running", "dead", "-1 second");
    const [fresh] = await storedRuns(db.pool, ["fresh"], "pending", null);
    const opts = { owner: "me", leaseMs: 60_000, limit: 10, limited: [] };
    const first = await claimRuns(db.pool, { ...opts, resumable: false });
    expect(first.map((r) => r.id)).toEqual([fresh]);
    const second = await claimRuns(db.pool, opts);
    expect(second.map((r) => r.id)).toEqual([orphan]);
  });
});
