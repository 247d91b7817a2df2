import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestTime } from "../../src/commands/test-time.js";
import { ManualClock } from "../../src/engine/clock.js";
import type { TriggerEvent } from "../../src/engine/definition/types.js";
import type { Engine } from "../../src/engine/engine.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("test_time_settle");
});
afterAll(async () => {
  await db.drop();
});

const settler = () =>
  new TestTime(db.pool, new ManualClock(), {} as Engine, [], {
    n: 0,
    tries: 0,
    since: 0,
    held: 0,
    listening: 0,
  });

describe("skyflow test's settle", () => {
  it("waits for a new run due and not yet claimed (a called child) to be claimed", async () => {
    const [run] = await enqueueRuns(db.pool, [
      { workflow: "double", version: "v1", event: { id: "child" } as TriggerEvent },
    ]);
    const status = async () =>
      (await db.pool.query("SELECT status FROM skyflow.runs WHERE id = $1", [run!.id])).rows[0].status;
    expect(await status()).toBe("pending");
    const started = Date.now();
    let claimedAt = 0;
    // The engine on a loaded machine: it claims the run 600 ms on, longer than the quiet of a settled run.
    const claim = new Promise<void>((resolve) =>
      setTimeout(async () => {
        await db.pool.query(
          `UPDATE skyflow.runs SET status = 'running', lease_owner = 'engine',
             lease_until = now() + interval '1 minute', updated_at = now() WHERE id = $1`,
          [run!.id],
        );
        claimedAt = Date.now();
        resolve();
      }, 600),
    );
    await settler().settle();
    const settledAt = Date.now();
    await claim;
    expect(claimedAt).toBeGreaterThan(0);
    expect(settledAt).toBeGreaterThanOrEqual(claimedAt);
    expect(settledAt - started).toBeGreaterThanOrEqual(600);
  }, 30_000);
});
