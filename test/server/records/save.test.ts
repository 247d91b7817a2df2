import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../../src/db/pool.js";
import type { AppContext } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import {
  asMaster,
  call,
  callError,
  countRows,
  makeApp,
  master,
  type Rec,
  SCHEMA,
  save,
  user,
} from "./helpers.js";

let db: TestDatabase;
let app: AppContext;
beforeAll(async () => {
  db = await createTestDatabase("rec_save");
  app = await makeApp(db.pool);
});
afterAll(async () => {
  await db.drop();
});

const alice = user("alice");
const bob = user("bob");

describe("record:save encoding", () => {
  it("creates a record with system fields set from the acting user and typed values encoded", async () => {
    const [rec] = await save(
      app,
      [
        {
          _id: "book/b1",
          title: "Dune",
          pages: 412,
          read: true,
          meta: { tags: ["sf"], nested: { $type: "date", $date: "2020-01-01T00:00:00Z" } },
          published: { $type: "date", $date: "1965-08-01T12:30:00.5+02:00" },
          _ownerID: "mallory",
          _created_at: "1999-01-01T00:00:00Z",
          _transient: { x: 1 },
          _anything: 1,
        },
      ],
      alice,
    );
    expect(rec).toMatchObject({
      _id: "book/b1",
      _type: "record",
      _access: null,
      _ownerID: "alice",
      _created_by: "alice",
      _updated_by: "alice",
      title: "Dune",
      pages: 412,
      read: true,
      meta: { tags: ["sf"], nested: { $type: "date", $date: "2020-01-01T00:00:00Z" } },
      published: { $type: "date", $date: "1965-08-01T10:30:00.5Z" },
    });
    expect(rec).not.toHaveProperty("_transient");
    expect(rec).not.toHaveProperty("_anything");
    expect(rec!._created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(rec!._created_at).toBe(rec!._updated_at);
    expect(Date.now() - Date.parse(rec!._created_at as string)).toBeLessThan(60_000);
    const cols = await db.pool.query(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'book' AND column_name IN ('title','pages','read','meta','published')
        ORDER BY column_name`,
      [SCHEMA],
    );
    expect(cols.rows).toEqual([
      { column_name: "meta", data_type: "jsonb" },
      { column_name: "pages", data_type: "double precision" },
      { column_name: "published", data_type: "timestamp without time zone" },
      { column_name: "read", data_type: "boolean" },
      { column_name: "title", data_type: "text" },
    ]);
  });

  it("a ref column gets a foreign key to the target table, created when missing, and refs round-trip", async () => {
    await save(app, [{ _id: "author/a1", name: "Frank" }], alice);
    const [rec] = await save(app, [{ _id: "essay/e1", author: { $type: "ref", $id: "author/a1" } }], alice);
    expect(rec!.author).toEqual({ $type: "ref", $id: "author/a1" });
    const fk = await db.pool.query(
      `SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('${SCHEMA}.essay') AND contype = 'f'`,
    );
    expect(fk.rows.map((r) => r.conname)).toEqual(["fk_author_author__id"]);
    const [other] = await save(
      app,
      [{ _id: "essay/e2", publisher: { $type: "ref", $id: "publisher/p1" } }],
      alice,
    );
    expect(other).toMatchObject({ _type: "error", code: 113, name: "ConstraintViolated", _id: "essay/e2" });
    expect(await countRows(db.pool, "publisher")).toBe(0);
  });

  it("a seq field becomes a serial column whose values the database assigns", async () => {
    const out = await save(
      app,
      [
        { _id: "ticket/t1", no: { $type: "seq" } },
        { _id: "ticket/t2", no: { $type: "seq" } },
      ],
      alice,
    );
    expect(out.map((r) => r.no)).toEqual([1, 2]);
    const [again] = await save(app, [{ _id: "ticket/t1", no: { $type: "seq" }, note: "x" }], alice);
    expect(again!.no).toBe(1);
  });

  it("an update merges: fields not sent are kept, null clears a field, owner and creation stay", async () => {
    const [first] = await save(app, [{ _id: "memo/m1", a: "one", b: "two" }], alice);
    const [second] = await save(app, [{ _id: "memo/m1", b: null, c: 3 }], bob);
    expect(second).toMatchObject({
      _id: "memo/m1",
      a: "one",
      c: 3,
      _ownerID: "alice",
      _created_by: "alice",
      _updated_by: "bob",
    });
    expect(second).not.toHaveProperty("b");
    expect(second!._created_at).toBe(first!._created_at);
  });
});

describe("record:save errors", () => {
  it("non-atomic: a malformed record is an item without _id, the others are saved, in input order", async () => {
    const out = await save(
      app,
      [
        { _id: "pet/p1", name: "a" },
        { _id: "no-slash", name: "b" },
        { _id: "pet/p2", x: { $type: "bogus" } },
        { _id: "pet/p3" },
      ],
      alice,
    );
    expect(out[0]).toMatchObject({ _id: "pet/p1", _type: "record" });
    expect(out[1]).toMatchObject({ _type: "error", code: 108, name: "InvalidArgument" });
    expect(out[1]).not.toHaveProperty("_id");
    expect(out[2]).toMatchObject({ _type: "error", code: 108 });
    expect(out[2]).not.toHaveProperty("_id");
    expect(out[3]).toMatchObject({ _id: "pet/p3", _type: "record" });
    expect(await countRows(db.pool, "pet")).toBe(2);
  });

  it("atomic: a malformed record fails the whole request with 108 and writes nothing", async () => {
    const err = await callError(
      app,
      "record:save",
      {
        atomic: true,
        records: [
          { _id: "crate/c1", n: 1 },
          { _id: "crate/c2", when: { $type: "date", $date: "yesterday" } },
        ],
      },
      alice,
    );
    expect(err.code).toBe(108);
    expect(err.message).toBe("fails to de-serialize records");
    expect(err.info).toMatchObject({ arguments: "records", errors: [{ code: 108 }] });
    expect((err.info as { errors: unknown[] }).errors[0]).not.toHaveProperty("_type");
    expect(await countRows(db.pool, "crate")).toBe(0);
  });

  it("atomic: one failing record rolls back the others and answers 115 naming it", async () => {
    await save(app, [{ _id: "locked/l1", v: 1, _access: [] }], alice);
    const err = await callError(
      app,
      "record:save",
      {
        atomic: true,
        records: [
          { _id: "locked/l2", v: 2 },
          { _id: "locked/l1", v: 9 },
        ],
      },
      bob,
    );
    expect(err.code).toBe(115);
    expect(err.status).toBe(409);
    expect(err.info).toEqual({
      "locked/l1": expect.objectContaining({ code: 102, name: "PermissionDenied" }),
    });
    expect(await countRows(db.pool, "locked")).toBe(1);
  });

  it("atomic: all records are saved together when all succeed", async () => {
    const { result } = await call(
      app,
      "record:save",
      { atomic: true, records: [{ _id: "pair/1" }, { _id: "pair/2" }] },
      alice,
    );
    expect((result as Rec[]).map((r) => r._id)).toEqual(["pair/1", "pair/2"]);
  });

  it("an empty or missing records list is 108", async () => {
    expect((await callError(app, "record:save", { records: [] }, alice)).code).toBe(108);
    expect((await callError(app, "record:save", {}, alice)).code).toBe(108);
  });

  it("an unknown $type is 108 InvalidArgument and nothing is written", async () => {
    const [item] = await save(app, [{ _id: "gizmo/g1", x: { $type: "teleport" } }], alice);
    expect(item).toMatchObject({ _type: "error", code: 108, name: "InvalidArgument" });
    expect(await countRows(db.pool, "gizmo")).toBe(0);
  });

  it("a nested unknown $type inside json is 108; geo values are saved; unknown-typed values are not written", async () => {
    const out = await save(
      app,
      [
        { _id: "blob/1", data: { inner: [{ $type: "mystery" }] } },
        { _id: "blob/2", spot: { $type: "geo", $lat: 1, $lng: 2 } },
        { _id: "blob/3", odd: { $type: "unknown", $underlying_type: "box" }, ok: 1 },
      ],
      alice,
    );
    expect(out[0]).toMatchObject({ _type: "error", code: 108 });
    expect(out[1]).toMatchObject({ _id: "blob/2", spot: { $type: "geo", $lat: 1, $lng: 2 } });
    expect(out[2]).toMatchObject({ _id: "blob/3", ok: 1 });
    expect(out[2]).not.toHaveProperty("odd");
    expect(await countRows(db.pool, "blob")).toBe(2);
  });

  it("a field saved with another type than its column is 114 and nothing is written", async () => {
    await save(app, [{ _id: "gauge/g1", level: 3 }], alice);
    const err = await callError(app, "record:save", { records: [{ _id: "gauge/g2", level: "high" }] }, alice);
    expect(err).toMatchObject({ code: 114, errorName: "IncompatibleSchema" });
    expect(err.message).toBe(
      "conflicting schema {TypeNumber  {0 <nil>} double precision} => {TypeString  {0 <nil>} }",
    );
    expect(await countRows(db.pool, "gauge")).toBe(1);
  });

  it("two records of one request disagreeing on a field's type is 114", async () => {
    const err = await callError(
      app,
      "record:save",
      {
        records: [
          { _id: "mix/1", v: 1 },
          { _id: "mix/2", v: "one" },
        ],
      },
      alice,
    );
    expect(err.code).toBe(114);
    expect(await countRows(db.pool, "mix")).toBe(0);
  });

  it("a key already used in another database is 109 Duplicated", async () => {
    await save(app, [{ _id: "diary/d1", text: "mine" }], alice, { database_id: "_private" });
    const [item] = await save(app, [{ _id: "diary/d1", text: "public" }], bob);
    expect(item).toMatchObject({ _type: "error", code: 109, name: "Duplicated", _id: "diary/d1" });
  });

  it("saving to _union is 111 NotSupported", async () => {
    const err = await callError(
      app,
      "record:save",
      { database_id: "_union", records: [{ _id: "u/1" }] },
      master,
    );
    expect(err).toMatchObject({ code: 111, status: 501 });
  });

  it("a record type or field name starting with _ is refused", async () => {
    const out = await save(app, [{ _id: "_auth/x", password: "p" }], alice);
    expect(out[0]).toMatchObject({ _type: "error", code: 108 });
    const auth = await db.pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}._auth`);
    expect(auth.rows[0].n).toBe(0);
  });
});

describe("record:save access", () => {
  it("only a write ACE, the owner or the master key may update a record", async () => {
    await save(
      app,
      [
        {
          _id: "doc/d1",
          v: 1,
          _access: [
            { level: "read", public: true },
            { level: "write", user_id: "carol" },
          ],
        },
      ],
      alice,
    );
    const [denied] = await save(app, [{ _id: "doc/d1", v: 2 }], bob);
    expect(denied).toMatchObject({ _type: "error", code: 102, _id: "doc/d1" });
    const [byCarol] = await save(app, [{ _id: "doc/d1", v: 3 }], user("carol"));
    expect(byCarol).toMatchObject({ v: 3 });
    const [byMaster] = await save(app, [{ _id: "doc/d1", v: 4 }], master);
    expect(byMaster).toMatchObject({ v: 4, _updated_by: "_god", _ownerID: "alice" });
    const [byOwner] = await save(app, [{ _id: "doc/d1", v: 5 }], alice);
    expect(byOwner).toMatchObject({ v: 5 });
  });

  it("a role ACE with write level lets holders of the role update", async () => {
    await save(app, [{ _id: "doc/d2", v: 1, _access: [{ level: "write", role: "editor" }] }], alice);
    expect((await save(app, [{ _id: "doc/d2", v: 2 }], bob))[0]).toMatchObject({ code: 102 });
    expect((await save(app, [{ _id: "doc/d2", v: 2 }], user("bob", ["editor"])))[0]).toMatchObject({ v: 2 });
  });

  it("the type's default access applies when _access is not given, even over a stored ACL", async () => {
    await db.pool.query(`INSERT INTO ${SCHEMA}._record_default_access VALUES ('secret', $1)`, [
      JSON.stringify([{ level: "read", role: "staff" }]),
    ]);
    const [rec] = await save(app, [{ _id: "secret/s1", v: 1 }], alice);
    expect(rec!._access).toEqual([{ level: "read", role: "staff" }]);
    const [given] = await save(
      app,
      [{ _id: "secret/s2", _access: [{ level: "read", public: true }] }],
      alice,
    );
    expect(given!._access).toEqual([{ level: "read", public: true }]);
    const [updated] = await save(app, [{ _id: "secret/s2", v: 2 }], alice);
    expect(updated!._access).toEqual([{ level: "read", role: "staff" }]);
  });

  it("without a default, an update that omits _access keeps the stored ACL", async () => {
    await save(app, [{ _id: "keep/k1", _access: [{ level: "read", public: true }] }], alice);
    const [rec] = await save(app, [{ _id: "keep/k1", v: 1, _access: null }], alice);
    expect(rec!._access).toEqual([{ level: "read", public: true }]);
  });

  it("creation ACL: only users holding a listed role may create records of the type", async () => {
    await db.pool.query(`INSERT INTO ${SCHEMA}._record_creation VALUES ('announcement', 'admin')`);
    const [denied] = await save(app, [{ _id: "announcement/a1", text: "x" }], alice);
    expect(denied).toMatchObject({ _type: "error", code: 102 });
    expect((await save(app, [{ _id: "announcement/a2" }], user("alice", ["admin"])))[0]).toMatchObject({
      _type: "record",
    });
    expect((await save(app, [{ _id: "announcement/a3" }], master))[0]).toMatchObject({ _type: "record" });
    expect(await countRows(db.pool, "announcement")).toBe(2);
  });

  it("a malformed _access entry is 108", async () => {
    const [item] = await save(app, [{ _id: "acl/1", _access: [{ level: "admin", public: true }] }], alice);
    expect(item).toMatchObject({ _type: "error", code: 108 });
  });

  it("impersonation with the master key makes the impersonated user the owner", async () => {
    const [rec] = await save(app, [{ _id: "letter/l1" }], asMaster("dave"));
    expect(rec).toMatchObject({ _ownerID: "dave", _created_by: "dave" });
  });

  it("private database rows carry the owner's id and are invisible to other databases", async () => {
    const [rec] = await save(app, [{ _id: "todo/t1", x: 1 }], bob, { database_id: "_private" });
    expect(rec!._ownerID).toBe("bob");
    const { rows } = await db.pool.query(`SELECT _database_id FROM ${SCHEMA}.todo WHERE _id = 't1'`);
    expect(rows).toEqual([{ _database_id: "bob" }]);
    expect(
      (await callError(app, "record:save", { database_id: "alice", records: [{ _id: "todo/t2" }] }, bob))
        .code,
    ).toBe(102);
  });
});

describe("record:save concurrency", () => {
  it("concurrent saves of one new record all succeed: one creates it, the others update it", async () => {
    await save(app, [{ _id: "race/warmup", n: 0 }], alice);
    for (let round = 1; round <= 5; round++) {
      const out = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((n) => save(app, [{ _id: `race/r${round}`, n }], alice).then((r) => r[0]!)),
      );
      expect(out.filter((r) => r._type !== "record")).toEqual([]);
    }
    expect(await countRows(db.pool, "race")).toBe(6);
  });
});

describe("record actions on a pool of one connection", () => {
  it("never need two pooled clients at once (save, atomic save, query with include, fetch, delete)", async () => {
    const one = createPool(db.url, { max: 1 });
    try {
      const small = { ...app, pool: one };
      await save(small, [{ _id: "solo/a", n: 1 }], alice);
      await save(small, [{ _id: "solo/b", a: { $type: "ref", $id: "solo/a" } }, { _id: "solo/c" }], alice, {
        atomic: true,
      });
      const q = await call(
        small,
        "record:query",
        { record_type: "solo", include: { x: { $type: "keypath", $val: "a" } } },
        alice,
      );
      expect((q.result as Rec[]).length).toBe(3);
      await call(small, "record:fetch", { ids: ["solo/a", "solo/b"] }, alice);
      const del = await call(small, "record:delete", { ids: ["solo/b", "solo/c"], atomic: true }, alice);
      expect(del.result).toHaveLength(2);
      await save(app, [{ _id: "elsewhere/e1" }], alice); // a table the small pool has not cached
      expect((await call(small, "record:delete", { ids: ["elsewhere/e1"] }, alice)).result).toEqual([
        { _id: "elsewhere/e1", _type: "record" },
      ]);
    } finally {
      await one.end();
    }
  });
});

describe("record:save on user records", () => {
  it("a user may update their own user record but not create one for someone else", async () => {
    const [own] = await save(app, [{ _id: "user/erin", nickname: "E" }], user("erin"));
    expect(own).toMatchObject({ _id: "user/erin", nickname: "E", _ownerID: "erin" });
    const [other] = await save(app, [{ _id: "user/frank", nickname: "F" }], user("erin"));
    expect(other).toMatchObject({ _type: "error", code: 102 });
  });

  it("a duplicate username is 109", async () => {
    await save(app, [{ _id: "user/u1", username: "same" }], master);
    const [dup] = await save(app, [{ _id: "user/u2", username: "same" }], master);
    expect(dup).toMatchObject({ _type: "error", code: 109 });
  });
});
