// Key paths through a reference (`draft.text`) apply the referenced record's read access (issue 20, point 2):
// a record the caller may not read behaves as a missing reference in predicates, sorts and include, in the
// public and the private database. Skygear v1 joins without the check; we deliberately differ (README).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { anonymous, callError, kp, makeApp, master, query, type Rec, save, user } from "./helpers.js";

let db: TestDatabase;
let app: AppContext;
const bob = user("bob");
const mallory = user("mallory");
const editor = user("mallory", ["editor"]);
const ref = (id: string) => ({ $type: "ref", $id: id });
const ownerOnly: unknown[] = [];

const SECRETS = { s1: "hunter2", s2: "apple", s3: "zebra", s4: "mango" };

beforeAll(async () => {
  db = await createTestDatabase("rec_ref_access");
  app = await makeApp(db.pool);
  // bob's owner-only secrets, one readable by everyone, one by role editor
  await save(
    app,
    Object.entries(SECRETS).map(([k, text]) => ({ _id: `secret/${k}`, text, _access: ownerOnly })),
    bob,
  );
  await save(
    app,
    [{ _id: "secret/open", text: "public-text", _access: [{ level: "read", public: true }] }],
    bob,
  );
  await save(
    app,
    [{ _id: "secret/role", text: "role-text", _access: [{ level: "read", role: "editor" }] }],
    bob,
  );
  // a ref of a ref: bob's hidden record pointing at another hidden one
  await save(app, [{ _id: "secret/outer", text: "outer", inner: ref("secret/s1"), _access: ownerOnly }], bob);
  // bob's private record (another database)
  await save(app, [{ _id: "secret/priv", text: "private-text" }], bob, { database_id: "_private" });
  // mallory's notes, one per target, keys in an order unrelated to the secrets' text
  const targets = ["s1", "s2", "s3", "s4", "open", "role", "outer", "priv", "own"];
  await save(app, [{ _id: "secret/own", text: "own-text" }], mallory);
  await save(
    app,
    targets.map((t, i) => ({ _id: `note/${String(9 - i)}-${t}`, draft: ref(`secret/${t}`), n: i })),
    mallory,
  );
  await save(app, [{ _id: "note/private-1", draft: ref("secret/priv") }], mallory, {
    database_id: "_private",
  });
  await save(app, [{ _id: "note/private-2", draft: ref("secret/s2") }], mallory, { database_id: "_private" });
});
afterAll(async () => {
  await db.drop();
});

const noteIds = (recs: Rec[]) => recs.map((r) => String(r._id).replace(/^note\/(\d-)?/, "")).sort();

async function notes(predicate: unknown, auth = mallory, extra: Rec = {}): Promise<string[]> {
  return noteIds(await query(app, { record_type: "note", predicate, ...extra }, auth));
}

describe("predicates through a reference the caller may not read", () => {
  it("like prefix probing learns nothing: every prefix matches no hidden record", async () => {
    for (const prefix of ["h", "hu", "hunter", "hunter2", "a", "z", "m", "%"]) {
      const found = await notes(["like", kp("draft.text"), `${prefix}%`]);
      expect(found.filter((t) => ["s1", "s2", "s3", "s4", "outer", "priv", "role"].includes(t))).toEqual([]);
    }
    // the readable target still matches
    expect(await notes(["like", kp("draft.text"), "public%"])).toEqual(["open"]);
  });

  it("eq, neq, in, ilike and comparisons see a hidden reference as missing", async () => {
    expect(await notes(["eq", kp("draft.text"), "hunter2"])).toEqual([]);
    expect(await notes(["ilike", kp("draft.text"), "HUNTER%"])).toEqual([]);
    expect(await notes(["in", kp("draft.text"), Object.values(SECRETS)])).toEqual([]);
    expect(await notes(["gt", kp("draft.text"), ""])).toEqual(["open", "own"]);
    expect(await notes(["neq", kp("draft.text"), "x"])).toEqual(["open", "own"]);
    // as with a reference to nothing: the joined field is null
    expect(await notes(["eq", kp("draft.text"), null])).toEqual(
      ["outer", "priv", "role", "s1", "s2", "s3", "s4"].sort(),
    );
    expect(await notes(["eq", kp("draft._owner_id"), "bob"])).toEqual(["open"]);
    expect(await notes(["eq", kp("draft._id"), "s1"])).toEqual([]);
  });

  it("a reference of a reference: the hidden record's own reference is hidden too, and deeper paths are refused", async () => {
    expect(await notes(["eq", kp("draft.inner"), ref("secret/s1")])).toEqual([]);
    expect(await notes(["neq", kp("draft.inner"), null])).toEqual([]);
    const err = await callError(
      app,
      "record:query",
      { record_type: "note", predicate: ["like", kp("draft.inner.text"), "h%"] },
      mallory,
    );
    expect(err.errorName).toBe("RecordQueryInvalid");
    expect(err.message).not.toContain("hunter");
  });

  it("read access by role applies: an editor sees the role's record", async () => {
    expect(await notes(["eq", kp("draft.text"), "role-text"])).toEqual([]);
    expect(await notes(["eq", kp("draft.text"), "role-text"], editor)).toEqual(["role"]);
  });

  it("the owner and the master key read through every reference", async () => {
    const all = ["hunter2", "apple", "zebra", "mango", "public-text", "role-text", "outer", "own-text"];
    expect(await notes(["in", kp("draft.text"), all], master)).toHaveLength(8);
    // mallory's notes and her own record have no _access (public); bob's secrets are his
    expect(await notes(["in", kp("draft.text"), all], bob)).toEqual(
      ["open", "outer", "own", "role", "s1", "s2", "s3", "s4"].sort(),
    );
  });
});

describe("sorts through a reference the caller may not read", () => {
  it("the order of hidden targets does not follow their text", async () => {
    const hidden = ["outer", "priv", "role", "s1", "s2", "s3", "s4"];
    const hiddenById = (await query(app, { record_type: "note", sort: [[kp("_id"), "asc"]] }, mallory))
      .map((r) => String(r._id))
      .filter((id) => hidden.some((h) => id.endsWith(`-${h}`)));
    expect(hiddenById).toHaveLength(7);
    const sorted = async (dir: string) =>
      (
        await query(
          app,
          {
            record_type: "note",
            sort: [
              [kp("draft.text"), dir],
              [kp("_id"), "asc"],
            ],
          },
          mallory,
        )
      ).map((r) => String(r._id));
    // hidden targets compare as null (last ascending, first descending), so the tie-breaker alone orders them
    expect(await sorted("asc")).toEqual(["note/1-own", "note/5-open", ...hiddenById]);
    expect(await sorted("desc")).toEqual([...hiddenById, "note/5-open", "note/1-own"]);
  });

  it("the owner's sort does follow the text (the check is not a blanket null)", async () => {
    const sorted = await query(
      app,
      {
        record_type: "note",
        predicate: ["in", kp("draft.text"), Object.values(SECRETS)],
        sort: [[kp("draft.text"), "asc"]],
      },
      bob,
    );
    expect(sorted.map((r) => String(r._id).replace(/^note\/\d-/, ""))).toEqual(["s2", "s1", "s4", "s3"]);
  });
});

describe("include through a reference the caller may not read", () => {
  it("hidden targets come back null, readable ones whole", async () => {
    const found = await query(app, { record_type: "note", include: { d: kp("draft") } }, mallory);
    const byTarget = Object.fromEntries(
      found.map((r) => [String(r._id).replace(/^note\/\d-/, ""), (r._transient as Rec).d]),
    );
    for (const t of ["s1", "s2", "s3", "s4", "outer", "priv", "role"]) expect(byTarget[t]).toBeNull();
    expect(byTarget.open).toMatchObject({ _id: "secret/open", text: "public-text" });
    expect(JSON.stringify(found)).not.toMatch(/hunter2|zebra|mango|private-text|role-text/);
  });
});

describe("the private database", () => {
  it("another user's private record behaves as missing; a readable public one joins", async () => {
    const priv = { database_id: "_private" };
    expect(await notes(["eq", kp("draft.text"), "private-text"], mallory, priv)).toEqual([]);
    expect(await notes(["like", kp("draft.text"), "p%"], mallory, priv)).toEqual([]);
    // s2 is bob's owner-only public record: hidden from mallory's private query too
    expect(await notes(["eq", kp("draft.text"), "apple"], mallory, priv)).toEqual([]);
    await save(app, [{ _id: "note/private-3", draft: ref("secret/open") }], mallory, priv);
    expect(await notes(["eq", kp("draft.text"), "public-text"], mallory, priv)).toEqual(["private-3"]);
  });

  it("the caller's own private record joins from the private database", async () => {
    await save(app, [{ _id: "secret/mine", text: "my-text" }], mallory, { database_id: "_private" });
    await save(app, [{ _id: "note/private-4", draft: ref("secret/mine") }], mallory, {
      database_id: "_private",
    });
    expect(await notes(["eq", kp("draft.text"), "my-text"], mallory, { database_id: "_private" })).toEqual([
      "private-4",
    ]);
  });
});

describe("field access through a reference", () => {
  it("an anonymous caller may not compare a user's username through a reference (124)", async () => {
    await save(app, [{ _id: "user/bob", username: "bob-the-builder" }], master);
    await save(
      app,
      [{ _id: "post/p1", author: ref("user/bob"), _access: [{ level: "read", public: true }] }],
      bob,
    );
    const err = await callError(
      app,
      "record:query",
      { record_type: "post", predicate: ["like", kp("author.username"), "b%"] },
      anonymous,
    );
    expect(err.errorName).toBe("RecordQueryDenied");
  });
});
