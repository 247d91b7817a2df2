import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitTry, committedOutput, LEASE_LOST_SQLSTATE } from "../../../src/engine/store/commit-try.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { storedRuns } from "../fixtures/defs.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("store_commit_try");
});
afterAll(async () => {
  await db.drop();
});

const record = (client: import("pg").PoolClient, runId: string, owner: string, output: unknown) =>
  commitTry(client, {
    runId,
    owner,
    runAttempt: 1,
    stepKey: "s",
    attempt: 1,
    kind: "sql",
    output: JSON.stringify(output),
  });

describe("commitTry", () => {
  it("records the try with its output as given, quotes and dollar signs included (bound, never in the text), and commits", async () => {
    const [run] = await storedRuns(db.pool, ["c1"], "running", "a", "1 minute");
    const output = { rows: [{ t: "it's $j$ a \\ test $$" }], row_count: 1 };
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      await record(c, run!, "a", output);
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
    expect(await committedOutput(db.pool, run!, 1, "s", 1)).toEqual({ output });
    expect(await committedOutput(db.pool, run!, 1, "s", 2)).toBeUndefined();
  });

  it("fails, committing nothing, when the run's lease is another engine's", async () => {
    const [run] = await storedRuns(db.pool, ["c2"], "running", "b", "1 minute");
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      await expect(record(c, run!, "a", {})).rejects.toMatchObject({ code: LEASE_LOST_SQLSTATE });
      // Its COMMIT rolled back: the connection is out of the transaction and usable.
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
    expect(await committedOutput(db.pool, run!, 1, "s", 1)).toBeUndefined();
  });

  it("fails when the same engine has claimed the run again since the try began (its claim count moved on)", async () => {
    const [run] = await storedRuns(db.pool, ["c3"], "running", "a", "1 minute");
    // The engine's lease lapsed and it claimed the run again: a try of the earlier claim may not commit.
    await db.pool.query("UPDATE skyflow.runs SET claims = 2 WHERE id = $1", [run]);
    const c = await db.pool.connect();
    const commit = (claims: number) =>
      commitTry(c, {
        runId: run!,
        owner: "a",
        runAttempt: 1,
        stepKey: "s",
        attempt: 1,
        kind: "sql",
        output: "{}",
        claims,
      });
    try {
      await c.query("BEGIN");
      await expect(commit(1)).rejects.toMatchObject({ code: LEASE_LOST_SQLSTATE });
      expect(await committedOutput(db.pool, run!, 1, "s", 1)).toBeUndefined();
      await c.query("BEGIN");
      await commit(2);
    } finally {
      c.release();
    }
    expect(await committedOutput(db.pool, run!, 1, "s", 1)).toEqual({ output: {} });
  });
});
