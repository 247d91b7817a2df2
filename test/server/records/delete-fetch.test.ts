import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { anonymous, call, callError, countRows, makeApp, master, type Rec, save, user } from "./helpers.js";

let db: TestDatabase;
let app: AppContext;
const alice = user("alice");
const bob = user("bob");

beforeAll(async () => {
  db = await createTestDatabase("rec_delete_fetch");
  app = await makeApp(db.pool);
});
afterAll(async () => {
  await db.drop();
});

const del = async (ids: string[], auth = alice, extra: Rec = {}) =>
  (await call(app, "record:delete", { ids, ...extra }, auth)).result as Rec[];
const fetch = async (ids: string[], auth = alice, extra: Rec = {}) =>
  (await call(app, "record:fetch", { ids, ...extra }, auth)).result as Rec[];

describe("record:delete", () => {
  it("deletes records and answers per id in input order, with 110 for a missing one", async () => {
    await save(app, [{ _id: "note/a" }, { _id: "note/b" }], alice);
    const out = await del(["note/b", "note/zzz", "nothing/x", "note/a"]);
    expect(out).toEqual([
      { _id: "note/b", _type: "record" },
      expect.objectContaining({ _id: "note/zzz", _type: "error", code: 110, name: "ResourceNotFound" }),
      expect.objectContaining({ _id: "nothing/x", _type: "error", code: 110 }),
      { _id: "note/a", _type: "record" },
    ]);
    expect(await countRows(db.pool, "note")).toBe(0);
  });

  it("refuses user records (102) and records without write access (102)", async () => {
    await save(app, [{ _id: "note/ro", _access: [{ level: "read", public: true }] }], alice);
    const out = await del(["user/alice", "note/ro"], bob);
    expect(out.map((r) => r.code)).toEqual([102, 102]);
    expect(await countRows(db.pool, "note")).toBe(1);
    expect(await del(["note/ro"], master)).toEqual([{ _id: "note/ro", _type: "record" }]);
  });

  it("a record still referenced by another is 113 ConstraintViolated", async () => {
    await save(app, [{ _id: "shelf/s1" }], alice);
    await save(app, [{ _id: "tome/t1", shelf: { $type: "ref", $id: "shelf/s1" } }], alice);
    const [item] = await del(["shelf/s1"]);
    expect(item).toMatchObject({ _id: "shelf/s1", _type: "error", code: 113 });
    expect(await countRows(db.pool, "shelf")).toBe(1);
  });

  it("atomic: one failure rolls back every delete and answers 115", async () => {
    await save(app, [{ _id: "card/c1" }, { _id: "card/c2" }], alice);
    const err = await callError(app, "record:delete", { ids: ["card/c1", "card/none"], atomic: true }, alice);
    expect(err).toMatchObject({ code: 115, info: { "card/none": expect.objectContaining({ code: 110 }) } });
    expect(await countRows(db.pool, "card")).toBe(2);
    expect(await del(["card/c1", "card/c2"], alice, { atomic: true })).toHaveLength(2);
    expect(await countRows(db.pool, "card")).toBe(0);
  });

  it("an empty list or an id without a type is 108 for the whole request, and nothing is deleted", async () => {
    await save(app, [{ _id: "keep/k" }], alice);
    expect((await callError(app, "record:delete", { ids: [] }, alice)).code).toBe(108);
    expect((await callError(app, "record:delete", { ids: ["keep/k", "notype"] }, alice)).code).toBe(108);
    expect(await countRows(db.pool, "keep")).toBe(1);
  });

  it("deleting in _union is 111; deleting in a private database touches only that database", async () => {
    expect(
      (await callError(app, "record:delete", { ids: ["keep/k"], database_id: "_union" }, master)).code,
    ).toBe(111);
    await save(app, [{ _id: "priv/p" }], bob, { database_id: "_private" });
    expect((await del(["priv/p"], bob))[0]).toMatchObject({ code: 110 });
    expect(await del(["priv/p"], bob, { database_id: "_private" })).toEqual([
      { _id: "priv/p", _type: "record" },
    ]);
  });
});

describe("record:fetch", () => {
  beforeAll(async () => {
    await save(
      app,
      [
        { _id: "doc/open", v: 1 },
        { _id: "doc/closed", v: 2, _access: [] },
        { _id: "doc/when", at: { $type: "date", $date: "2024-02-29T23:59:59.999Z" } },
      ],
      alice,
    );
  });

  it("answers each id with the record or an error item (110 missing, 102 unreadable)", async () => {
    const out = await fetch(["doc/closed", "doc/open", "doc/none", "other/x"], bob);
    expect(out[0]).toMatchObject({ _id: "doc/closed", _type: "error", code: 102 });
    expect(out[1]).toMatchObject({ _id: "doc/open", _type: "record", v: 1, _ownerID: "alice" });
    expect(out[2]).toMatchObject({ _id: "doc/none", _type: "error", code: 110 });
    expect(out[3]).toMatchObject({ _id: "other/x", _type: "error", code: 110 });
  });

  it("the owner, the master key and anonymous callers of public records can read", async () => {
    expect((await fetch(["doc/closed"], alice))[0]).toMatchObject({ _type: "record", v: 2 });
    expect((await fetch(["doc/closed"], master))[0]).toMatchObject({ _type: "record" });
    expect((await fetch(["doc/open", "doc/closed"], anonymous)).map((r) => r._type)).toEqual([
      "record",
      "error",
    ]);
  });

  it("returns dates as $date values in UTC", async () => {
    const [rec] = await fetch(["doc/when"]);
    expect(rec!.at).toEqual({ $type: "date", $date: "2024-02-29T23:59:59.999Z" });
  });

  it("an id without a type is 108", async () => {
    expect((await callError(app, "record:fetch", { ids: ["bad"] }, alice)).code).toBe(108);
  });
});
