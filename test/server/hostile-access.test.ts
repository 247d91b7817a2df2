// A hostile user against another user's data (issue 20, points 1 and 2): over raw HTTP and through the
// official SDK, mallory tries to read, probe, sort by, include, overwrite and delete bob's owner-only and
// private records. She learns nothing of them, changes nothing of his, and no answer or log holds a secret.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Any, closeContainer, sdkContainer, sdkError } from "../helpers/sdk.js";
import { TEST_API_KEY } from "../helpers/server.js";
import {
  as,
  clientKey,
  expectItemRefusals,
  expectNoSecrets,
  expectRefusal,
  fingerprint,
  type Hostile,
  startHostile,
} from "./hostile-kit.js";
import { post, type RawResponse } from "./http-client.js";

let h: Hostile;
let sdk: Any;
const kp = (v: string) => ({ $type: "keypath", $val: v });
const ref = (id: string) => ({ $type: "ref", $id: id });
/** bob's values: none may reach mallory. */
const BOB_SECRETS = ["hunter2", "zebra-secret", "apple-secret", "diary-entry", "outer-secret"];
const answers: string[] = [];

async function mallory(path: string, body: unknown): Promise<RawResponse> {
  const r = await post(h.srv.url, path, body, as(h.mallory));
  answers.push(r.text);
  for (const s of BOB_SECRETS) expect(r.text, `${path} answered bob's ${s}`).not.toContain(s);
  return r;
}

const ids = (r: RawResponse) => (r.json.result as { _id: string }[]).map((x) => x._id).sort();

beforeAll(async () => {
  h = await startHostile("hostile_access");
  const bob = (path: string, body: unknown) => post(h.srv.url, path, body, as(h.bob));
  const ownerOnly: unknown[] = [];
  const saved = await bob("/record/save", {
    records: [
      { _id: "secret/s1", text: "hunter2", n: 42, _access: ownerOnly },
      { _id: "secret/s2", text: "zebra-secret", n: 7, _access: ownerOnly },
      { _id: "secret/s3", text: "apple-secret", n: 1, _access: ownerOnly },
      { _id: "secret/outer", text: "outer-secret", inner: ref("secret/s1"), _access: ownerOnly },
      { _id: "doc/d1", text: "readable", _access: [{ level: "read", public: true }] },
    ],
  });
  expect(saved.json.result.map((r: { _type: string }) => r._type)).toEqual(Array(5).fill("record"));
  const priv = await bob("/record/save", {
    database_id: "_private",
    records: [{ _id: "diary/p1", text: "diary-entry" }],
  });
  expect(priv.json.result[0]._type).toBe("record");
  const notes = await post(
    h.srv.url,
    "/record/save",
    {
      records: ["s1", "s2", "s3", "outer"].map((t) => ({ _id: `note/${t}`, draft: ref(`secret/${t}`) })),
    },
    as(h.mallory),
  );
  expect(notes.json.result.map((r: { _type: string }) => r._type)).toEqual(Array(4).fill("record"));
  sdk = await sdkContainer(h.srv.url, TEST_API_KEY);
  await sdk.auth.loginWithUsername("mallory", h.mallory.password);
}, 60_000);
afterAll(async () => {
  if (sdk) closeContainer(sdk);
  await h?.close();
});

describe("reading bob's owner-only and private records", () => {
  it("fetch answers 102 per record, with no field of it", async () => {
    const r = await mallory("/record/fetch", { ids: ["secret/s1", "secret/s2"] });
    expectItemRefusals(r, "fetch");
    expect(r.json.result.map((x: { code: number }) => x.code)).toEqual([102, 102]);
  });

  it("query and count see nothing; predicates on the hidden fields match nothing", async () => {
    expect(ids(await mallory("/record/query", { record_type: "secret" }))).toEqual([]);
    const counted = await mallory("/record/query", { record_type: "secret", count: true });
    expect(counted.json.info).toEqual({ count: 0 });
    for (const predicate of [
      ["like", kp("text"), "h%"],
      ["eq", kp("n"), 42],
      ["gt", kp("n"), 0],
      ["in", kp("text"), ["hunter2"]],
    ]) {
      expect(ids(await mallory("/record/query", { record_type: "secret", predicate }))).toEqual([]);
    }
  });

  it("another user's private database is refused; her own holds nothing of his", async () => {
    expectRefusal(
      await mallory("/record/query", { record_type: "diary", database_id: h.bob.id }),
      "query bob db",
    );
    expectRefusal(
      await mallory("/record/fetch", { ids: ["diary/p1"], database_id: h.bob.id }),
      "fetch bob db",
    );
    const own = await mallory("/record/fetch", { ids: ["diary/p1"], database_id: "_private" });
    expect(own.json.result[0]).toMatchObject({ _type: "error", code: 110 });
    expectRefusal(await mallory("/record/query", { record_type: "diary", database_id: "_union" }), "union");
  });

  it("_user_id does not let a token or the client key act as bob", async () => {
    const r = await mallory("/record/query", { record_type: "secret", _user_id: h.bob.id });
    expect(ids(r)).toEqual([]);
    const anon = await post(
      h.srv.url,
      "/record/query",
      { record_type: "secret", _user_id: h.bob.id },
      clientKey(),
    );
    expect(anon.json.result).toEqual([]);
    const saved = await mallory("/record/save", { records: [{ _id: "note/imp", x: 1 }], _user_id: h.bob.id });
    expect(saved.json.result[0]._ownerID).toBe(h.mallory.id);
  });
});

describe("probing through references to bob's records", () => {
  const probe = (predicate: unknown, extra: Record<string, unknown> = {}) =>
    mallory("/record/query", { record_type: "note", predicate, ...extra });

  it("like prefixes, eq, in, comparisons and null checks learn nothing", async () => {
    for (const prefix of ["h", "hu", "hunter", "z", "a", "%"]) {
      expect(ids(await probe(["like", kp("draft.text"), `${prefix}%`]))).toEqual([]);
    }
    expect(ids(await probe(["eq", kp("draft.text"), "hunter2"]))).toEqual([]);
    expect(ids(await probe(["in", kp("draft.text"), ["hunter2", "zebra-secret"]]))).toEqual([]);
    expect(ids(await probe(["gt", kp("draft.n"), 10]))).toEqual([]);
    expect(ids(await probe(["lt", kp("draft.n"), 10]))).toEqual([]);
    // every hidden reference is null alike
    expect(ids(await probe(["and", ["eq", kp("draft.text"), null], ["neq", kp("draft"), null]]))).toEqual(
      ["note/outer", "note/s1", "note/s2", "note/s3"].sort(),
    );
    expect(ids(await probe(["eq", kp("draft.inner"), ref("secret/s1")]))).toEqual([]);
  });

  it("a nested key path (a reference of a reference) is refused", async () => {
    expectRefusal(await probe(["like", kp("draft.inner.text"), "h%"]), "nested");
  });

  it("sorting by a hidden field orders by the tie-breaker alone", async () => {
    for (const field of ["draft.text", "draft.n"]) {
      for (const dir of ["asc", "desc"]) {
        const r = await mallory("/record/query", {
          record_type: "note",
          predicate: ["in", kp("_id"), ["s1", "s2", "s3"]],
          sort: [
            [kp(field), dir],
            [kp("_id"), "asc"],
          ],
        });
        expect(r.json.result.map((x: { _id: string }) => x._id)).toEqual(["note/s1", "note/s2", "note/s3"]);
      }
    }
  });

  it("include gives null for hidden targets", async () => {
    const r = await mallory("/record/query", { record_type: "note", include: { d: kp("draft") } });
    for (const rec of r.json.result) expect(rec._transient.d).toBeNull();
  });

  it("a reference to bob's private record is as hidden", async () => {
    const saved = await mallory("/record/save", { records: [{ _id: "note/priv", pdraft: ref("diary/p1") }] });
    expect(saved.json.result[0]._type).toBe("record");
    expect(ids(await probe(["like", kp("pdraft.text"), "d%"]))).toEqual([]);
    const r = await mallory("/record/query", {
      record_type: "note",
      predicate: ["eq", kp("_id"), "priv"],
      include: { d: kp("pdraft") },
    });
    expect(r.json.result[0]._transient.d).toBeNull();
  });

  it("through the official SDK as well", async () => {
    const Note = sdk.Record.extend("note");
    const q = new sdk.Query(Note);
    q.like("draft.text", "hunter%");
    expect(await sdk.publicDB.query(q)).toHaveLength(0);
    const sorted = new sdk.Query(Note);
    sorted.contains("_id", ["s1", "s2", "s3"]);
    sorted.addAscending("draft.text");
    sorted.addAscending("_id");
    sorted.transientInclude("draft", "d");
    const found = await sdk.publicDB.query(sorted);
    expect(found.map((n: Any) => n._id)).toEqual(["s1", "s2", "s3"]);
    for (const n of found) expect(n.$transient.d).toBeNull();
    await expect(sdk.publicDB.getRecordByID("secret/s1")).rejects.toThrow("secret/s1 does not exist");
    const Secret = sdk.Record.extend("secret");
    const err = await sdkError(sdk.publicDB.save(new Secret({ _id: "secret/s1", text: "pwned" })));
    expect(err.code).toBe(102);
  });
});

describe("writing bob's records", () => {
  it("overwrites, ACL grabs, owner changes and deletes are refused and change nothing", async () => {
    const before = await fingerprint(h.db);
    expectItemRefusals(
      await mallory("/record/save", { records: [{ _id: "secret/s1", text: "pwned" }] }),
      "overwrite",
    );
    expectRefusal(
      await mallory("/record/save", { records: [{ _id: "secret/s1", text: "pwned" }], atomic: true }),
      "atomic overwrite",
    );
    expectItemRefusals(
      await mallory("/record/save", {
        records: [{ _id: "doc/d1", _access: [{ level: "write", user_id: h.mallory.id }] }],
      }),
      "acl grab",
    );
    expectItemRefusals(
      await mallory("/record/save", { records: [{ _id: "doc/d1", _ownerID: h.mallory.id, text: "x" }] }),
      "owner change",
    );
    expectItemRefusals(await mallory("/record/delete", { ids: ["secret/s1", "doc/d1"] }), "delete");
    expectItemRefusals(await mallory("/record/delete", { ids: [`user/${h.bob.id}`] }), "delete user");
    expectRefusal(await mallory("/record/delete", { ids: ["secret/s1"], atomic: true }), "atomic delete");
    expectRefusal(
      await mallory("/record/save", { records: [{ _id: "note/x", a: 1 }], database_id: h.bob.id }),
      "save into bob's db",
    );
    expect(await fingerprint(h.db)).toEqual(before);
  });

  it("the same key in her own databases collides (109) instead of replacing his record", async () => {
    const before = await fingerprint(h.db);
    for (const database_id of ["_private", "_public"]) {
      const r = await mallory("/record/save", { database_id, records: [{ _id: "diary/p1", text: "mine" }] });
      expect(r.json.result[0]).toMatchObject({ _type: "error", code: 109 });
    }
    expect(await fingerprint(h.db)).toEqual(before);
  });

  it("bob's username stays his: refused atomically, dropped otherwise", async () => {
    const user = `user/${h.bob.id}`;
    expectRefusal(
      await mallory("/record/save", { records: [{ _id: user, username: "stolen" }], atomic: true }),
      "atomic username",
    );
    await mallory("/record/save", { records: [{ _id: user, username: "stolen" }] });
    const back = await post(h.srv.url, "/record/fetch", { ids: [user] }, as(h.bob));
    expect(back.json.result[0].username).toBe("bob");
    expect((await sdkError(sdk.auth.signupWithUsername("bob", "x"))).code).toBe(109);
  });

  it("no secret reached the log or an answer", () => {
    expectNoSecrets(h, answers);
    for (const s of BOB_SECRETS) expect(h.lines.join("\n")).not.toContain(s);
  });
});
