import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolDb } from "../../../src/db/pool.js";
import { claimOwn, claimRuns, leaseOwnerOf } from "../../../src/engine/store/claim.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { proxiedPool } from "../../helpers/proxy.js";
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
    const first = await claimRuns(poolDb(db.pool), { ...opts, resumable: false });
    expect(first.map((r) => r.id)).toEqual([fresh]);
    const second = await claimRuns(poolDb(db.pool), opts);
    expect(second.map((r) => r.id)).toEqual([orphan]);
  });

  it("returns a resumed run's succeeded steps' outputs (their last try each), and none for a new run", async () => {
    const [woken] = await storedRuns(db.pool, ["woken"], "running", "dead", "-1 second");
    const [fresh] = await storedRuns(db.pool, ["fresh-out"], "pending", null);
    await db.pool.query(`UPDATE skyflow.runs SET snapshot = $2::jsonb WHERE id = $1`, [
      woken,
      JSON.stringify({ steps: { a: { status: "succeeded" }, b: { status: "running" } } }),
    ]);
    await db.pool.query(
      `INSERT INTO skyflow.step_tries (run_id, run_attempt, step_key, attempt, kind, status, output)
       VALUES ($1, 1, 'a', 1, 'sql', 'failed', NULL), ($1, 1, 'a', 2, 'sql', 'succeeded', '{"n": 2}'),
              ($1, 1, 'b', 1, 'sleep', 'running', NULL)`,
      [woken],
    );
    const got = await claimRuns(poolDb(db.pool), { owner: "me", leaseMs: 60_000, limit: 10, limited: [] });
    const byId = new Map(got.map((r) => [r.id, r]));
    expect(byId.get(woken!)?.outputs).toEqual({ a: { n: 2 } });
    expect(byId.get(fresh!)?.outputs).toBeNull();
  });

  it("fails a claim that gets no answer within a lease (a partition) instead of waiting for TCP", async () => {
    const { proxy, pool } = await proxiedPool(db.url, 2);
    try {
      // Two connections open before the partition (a new one would wait for TCP to give up on its connect).
      await Promise.all([pool.query("SELECT pg_sleep(0.05)"), pool.query("SELECT pg_sleep(0.05)")]);
      proxy.freeze();
      const t0 = Date.now();
      const claim = (limited: { workflow: string; limit: number }[]) =>
        Promise.race([
          claimRuns(poolDb(pool), { owner: "me", leaseMs: 500, limit: 10, limited, resumable: false }).then(
            () => "claimed",
            (err: Error) => err.message,
          ),
          new Promise((r) => setTimeout(() => r("still waiting after 5 s"), 5_000)),
        ]);
      expect(await claim([])).toMatch(/timeout/i);
      expect(Date.now() - t0).toBeLessThan(2_000);
      // A claim of a workflow with a concurrency limit (a transaction on a connection of its own) too.
      expect(await claim([{ workflow: "w", limit: 1 }])).toMatch(/timeout/i);
    } finally {
      await proxy.close();
      await pool.end();
    }
  });
});

describe("claimOwn", () => {
  it("takes back the runs of this engine's earlier incarnations, never this incarnation's nor another's", async () => {
    const self = leaseOwnerOf("own-e", "now");
    const [mine] = await storedRuns(db.pool, ["own-mine"], "running", self, "1 minute");
    const [earlier] = await storedRuns(
      db.pool,
      ["own-earlier"],
      "running",
      leaseOwnerOf("own-e", "was"),
      "1 minute",
    );
    const [legacy] = await storedRuns(db.pool, ["own-legacy"], "running", "own-e", "1 minute");
    await storedRuns(db.pool, ["own-prefix"], "running", leaseOwnerOf("own-e2", "was"), "1 minute");
    await storedRuns(db.pool, ["own-other"], "running", leaseOwnerOf("other", "was"), "1 minute");
    await storedRuns(db.pool, ["own-parked"], "waiting", null);
    const taken = await claimOwn(db.pool, "own-e", self, 60_000, 10);
    expect(taken.map((r) => r.id).sort()).toEqual([earlier, legacy].sort());
    // Taken once: now this incarnation's, so a second look (as a wake during start might) finds none.
    expect(await claimOwn(db.pool, "own-e", self, 60_000, 10)).toEqual([]);
    const { rows } = await db.pool.query<{ claims: number }>(
      "SELECT claims FROM skyflow.runs WHERE id = $1",
      [mine],
    );
    expect(rows[0]!.claims).toBe(0);
  });
});
