import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/server/records/database.js";
import { byIdLookup, coalescedLookup } from "../../../src/server/records/query-batch.js";
import type { ActionResult, AppContext } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { kp, makeApp, master, query, save, user } from "./helpers.js";

const pub: Database = { kind: "public", id: "" };
const alice = user("alice");
const bob = user("bob");

describe("byIdLookup", () => {
  const eq = (id: unknown) => ({ predicate: ["eq", kp("_id"), id] });
  it("takes a lookup by _id alone, either way round", () => {
    expect(byIdLookup({ ...eq("k1"), limit: 1 }, "item", pub, alice)?.id).toBe("k1");
    expect(byIdLookup({ predicate: ["eq", "k2", kp("_id")] }, "item", pub, alice)?.id).toBe("k2");
  });
  it("leaves every other query alone", () => {
    const none = [
      { predicate: ["eq", kp("name"), "k1"] },
      { predicate: ["neq", kp("_id"), "k1"] },
      eq({ $type: "ref", $id: "item/k1" }),
      { ...eq("k1"), count: true },
      { ...eq("k1"), offset: 1 },
      { ...eq("k1"), limit: 0 },
      { ...eq("k1"), sort: [[kp("_id"), "asc"]] },
      { ...eq("k1"), include: { c: kp("city") } },
    ];
    for (const p of none) expect(byIdLookup(p, "item", pub, alice), JSON.stringify(p)).toBeUndefined();
    expect(byIdLookup(eq("k1"), "item", { kind: "union" }, master)).toBeUndefined();
  });
  it("groups only lookups of the same caller, type, database and desired keys", () => {
    const key = (p: Record<string, unknown>, type = "item", db: Database = pub, auth = alice) =>
      byIdLookup({ ...eq("x"), ...p }, type, db, auth)!.group;
    const base = key({});
    expect(key({ limit: 1 })).toBe(base);
    expect(key({}, "city")).not.toBe(base);
    expect(key({}, "item", { kind: "private", id: "alice" })).not.toBe(base);
    expect(key({}, "item", pub, bob)).not.toBe(base);
    expect(key({}, "item", pub, user("alice", ["admin"]))).not.toBe(base);
    expect(key({ desired_keys: ["name"] })).not.toBe(base);
  });
});

describe("coalescedLookup", () => {
  it("runs lookups alone while few are in flight, then the waiting ones together, each getting its own", async () => {
    const singles: (() => void)[] = [];
    const batches: string[][] = [];
    const run = (id: string) => ({
      single: () =>
        new Promise<ActionResult>((resolve) =>
          singles.push(() => resolve({ result: [{ _id: `item/${id}` }] })),
        ),
      many: async (ids: string[]) => {
        batches.push(ids);
        return { result: ids.filter((i) => i !== "missing").map((i) => ({ _id: `item/${i}` })) };
      },
    });
    const pool = {} as never;
    const ids = ["a", "b", "c", "d", "e", "f", "e", "missing"];
    const answers = ids.map((id) => coalescedLookup(pool, { group: "g", id }, "item", run(id)));
    expect(singles.length).toBe(2);
    singles[0]!();
    const waited = await Promise.all(answers.slice(2));
    expect(batches).toEqual([["c", "d", "e", "f", "missing"]]);
    singles[1]!();
    const got = [...(await Promise.all(answers.slice(0, 2))), ...waited];
    const idsOf = (a: ActionResult) => (a.result as { _id: string }[]).map((r) => r._id);
    expect(got.map(idsOf)).toEqual([
      ["item/a"],
      ["item/b"],
      ["item/c"],
      ["item/d"],
      ["item/e"],
      ["item/f"],
      ["item/e"],
      [],
    ]);
  });

  it("hands a failed statement's error to every lookup that waited for it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const run = {
      single: async (): Promise<ActionResult> => {
        await gate;
        return { result: [] };
      },
      many: async (): Promise<ActionResult> => {
        throw new Error("boom");
      },
    };
    const pool = {} as never;
    const all = Array.from({ length: 6 }, (_, i) =>
      coalescedLookup(pool, { group: "g", id: `k${i}` }, "item", run).then(
        () => "ok",
        (e: Error) => e.message,
      ),
    );
    release();
    expect(await Promise.all(all)).toEqual(["ok", "ok", "boom", "boom", "boom", "boom"]);
  });
});

describe("coalesced lookups against Postgres", () => {
  let db: TestDatabase;
  let app: AppContext;
  beforeAll(async () => {
    db = await createTestDatabase("rec_query_batch");
    app = await makeApp(db.pool);
    const recs = Array.from({ length: 30 }, (_, i) => ({
      _id: `item/k${i}`,
      n: i,
      // Every third record only its owner (alice) may read.
      ...(i % 3 === 0 ? { _access: [] } : { _access: [{ level: "read", public: true }] }),
    }));
    await save(app, recs, alice);
  });
  afterAll(async () => {
    await db.drop();
  });

  it("answer each caller exactly as a lookup alone would, access rules included", async () => {
    const callers = [alice, bob, master];
    const asks = Array.from({ length: 120 }, (_, i) => ({
      auth: callers[i % 3]!,
      id: i % 11 === 0 ? "nope" : `k${i % 30}`,
    }));
    const lookup = (a: (typeof asks)[number]) =>
      query(app, { record_type: "item", predicate: ["eq", kp("_id"), a.id], limit: 1 }, a.auth);
    const alone: unknown[] = [];
    for (const a of asks) alone.push(await lookup(a));
    // Count the coalesced statements this time: there must be some, carrying several ids.
    const pool = db.pool as unknown as { query: (...a: unknown[]) => Promise<unknown> };
    const plain = pool.query.bind(db.pool);
    const coalesced: number[] = [];
    pool.query = (q: unknown, ...rest: unknown[]) => {
      const c = q as { text?: string; values?: unknown[] };
      if (c.text?.includes("_id = ANY(")) coalesced.push((c.values?.find(Array.isArray) ?? []).length);
      return plain(q, ...rest);
    };
    const together = await Promise.all(asks.map(lookup)).finally(() => {
      pool.query = plain;
    });
    expect(together).toEqual(alone);
    expect(coalesced.length).toBeGreaterThan(0);
    expect(Math.max(...coalesced)).toBeGreaterThan(1);
    // The access rules did apply: bob cannot see alice's owner-only records.
    expect((await lookup({ auth: bob, id: "k3" })).length).toBe(0);
    expect((await lookup({ auth: alice, id: "k3" })).length).toBe(1);
  });
});
