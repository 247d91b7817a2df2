import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { releaseRuns, renewLeases } from "../../../src/engine/store/lease.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { storedRuns } from "../fixtures/defs.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("store_lease");
});
afterAll(async () => {
  await db.drop();
});

const run = async (event: string, status: string, owner: string | null) =>
  (await storedRuns(db.pool, [event], status, owner))[0]!;

describe("renewLeases", () => {
  it("extends this owner's running leases, naming them, and reports as lost only the runs another engine holds", async () => {
    const mine = await run("mine", "running", "a");
    const taken = await run("taken", "running", "b");
    // Its own final save committed just before the renewal: finishing here, not lost.
    const finished = await run("finished", "succeeded", null);
    const parked = await run("parked", "waiting", null);
    const { renewed, lost } = await renewLeases(db.pool, "a", [mine, taken, finished, parked], 60_000);
    expect([...renewed]).toEqual([mine]);
    expect([...lost]).toEqual([taken]);
    const { rows } = await db.pool.query(
      "SELECT id, lease_until > now() + interval '50 seconds' AS extended FROM skyflow.runs WHERE id = ANY($1)",
      [[mine, taken]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.extended]))).toEqual({ [mine]: true, [taken]: false });
  });

  it("skips a run whose row a save holds locked instead of waiting for it (which deadlocked)", async () => {
    const busy = await run("busy", "running", "a");
    const free = await run("free", "running", "a");
    const saver = await db.pool.connect();
    try {
      await saver.query("BEGIN");
      await saver.query("SELECT 1 FROM skyflow.runs WHERE id = $1 FOR UPDATE", [busy]);
      const out = await Promise.race([
        renewLeases(db.pool, "a", [busy, free], 60_000),
        new Promise<"blocked">((r) => setTimeout(() => r("blocked"), 3000)),
      ]);
      // The skipped run is not among the renewed: its engine counts its lease from the save instead.
      expect(out).toEqual({ renewed: new Set([free]), lost: new Set() });
    } finally {
      await saver.query("ROLLBACK");
      saver.release();
    }
    const { rows } = await db.pool.query(
      "SELECT id, lease_until > now() + interval '50 seconds' AS extended FROM skyflow.runs WHERE id = ANY($1)",
      [[busy, free]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.extended]))).toEqual({ [busy]: false, [free]: true });
  });

  it("releases a stopping engine's runs to the queue and wakes the other engines", async () => {
    const held = await run("held", "running", "gone");
    const listener = await db.pool.connect();
    try {
      await listener.query("LISTEN skyflow_runs");
      const woken = new Promise<string>((r) => listener.once("notification", (n) => r(n.channel)));
      expect(await releaseRuns(db.pool, "gone", [held])).toBe(1);
      expect(await woken).toBe("skyflow_runs");
    } finally {
      await listener.query("UNLISTEN *");
      listener.release();
    }
    const { rows } = await db.pool.query("SELECT status, lease_owner FROM skyflow.runs WHERE id = $1", [
      held,
    ]);
    expect(rows).toEqual([{ status: "waiting", lease_owner: null }]);
  });
});
