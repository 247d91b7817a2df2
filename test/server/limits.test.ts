// The configurable request limits (issue 20, point 3) on a server configured small: each is refused with its
// Skygear error and 4xx status, naming the setting, before any database work; just under each limit works.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { constraintName } from "../../src/server/records/table.js";
import { as, fingerprint, type Hostile, startHostile } from "./hostile-kit.js";
import { post } from "./http-client.js";

let h: Hostile;
const kp = (v: string) => ({ $type: "keypath", $val: v });
const LIMITS = { bodyBytes: 4096, records: 3, inList: 5, predicateDepth: 2, queryTerms: 4, valueDepth: 2 };

beforeAll(async () => {
  h = await startHostile("server_limits", LIMITS);
  const r = await post(h.srv.url, "/record/save", { records: [{ _id: "note/a", title: "a" }] }, as(h.alice));
  expect(r.json.result[0]._type).toBe("record");
});
afterAll(async () => {
  await h?.close();
});

const save = (body: unknown) => post(h.srv.url, "/record/save", body, as(h.alice));
const query = (body: object) =>
  post(h.srv.url, "/record/query", { record_type: "note", ...body }, as(h.alice));

describe("request limits", () => {
  it("a body over SKYFLOW_MAX_BODY_BYTES: 413 BadRequest, nothing read past it", async () => {
    const r = await save({ records: [{ _id: "big/x", t: "x".repeat(5000) }] });
    expect(r.status).toBe(413);
    expect(r.json.error).toMatchObject({ name: "BadRequest", code: 107 });
    expect(r.json.error.message).toContain("SKYFLOW_MAX_BODY_BYTES");
    expect((await save({ records: [{ _id: "big/y", t: "x".repeat(3000) }] })).status).toBe(200);
  });

  it("a declared Content-Length over the limit is refused before the body is sent", async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(new URL("/record/save", h.srv.url), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": String(10 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.write("{");
      // the rest never comes: the answer must not wait for it
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe(107);
  });

  it("more records or ids than SKYFLOW_MAX_RECORDS: 108, and no table is made", async () => {
    const before = await fingerprint(h.db);
    const records = [1, 2, 3, 4].map((i) => ({ _id: `fresh/${i}`, v: i }));
    const r = await save({ records });
    expect([r.status, r.json.error.code, r.json.error.info]).toEqual([400, 108, { arguments: ["records"] }]);
    expect(r.json.error.message).toContain("SKYFLOW_MAX_RECORDS");
    for (const action of ["fetch", "delete"]) {
      const ids = ["note/1", "note/2", "note/3", "note/4"];
      const x = await post(h.srv.url, `/record/${action}`, { ids }, as(h.alice));
      expect([x.status, x.json.error.code, x.json.error.info]).toEqual([400, 108, { arguments: ["ids"] }]);
    }
    expect(await fingerprint(h.db)).toEqual(before);
    expect((await save({ records: records.slice(0, 3) })).status).toBe(200);
  });

  it("an in list over SKYFLOW_MAX_IN_LIST: 120", async () => {
    const r = await query({ predicate: ["in", kp("title"), ["a", "b", "c", "d", "e", "f"]] });
    expect([r.status, r.json.error.code]).toEqual([400, 120]);
    expect(r.json.error.message).toContain("SKYFLOW_MAX_IN_LIST");
    expect((await query({ predicate: ["in", kp("title"), ["a", "b", "c", "d", "e"]] })).status).toBe(200);
  });

  it("a predicate nested past SKYFLOW_MAX_PREDICATE_DEPTH: 120, before the type's table is read", async () => {
    const leaf = ["eq", kp("title"), "a"];
    const r = await post(
      h.srv.url,
      "/record/query",
      { record_type: "no_such_type", predicate: ["and", ["or", ["not", leaf]]] },
      as(h.alice),
    );
    expect([r.status, r.json.error.code]).toEqual([400, 120]);
    expect(r.json.error.message).toContain("SKYFLOW_MAX_PREDICATE_DEPTH");
    expect((await query({ predicate: ["and", ["not", leaf]] })).status).toBe(200);
  });

  it("more comparisons, sort keys, includes or desired keys than SKYFLOW_MAX_QUERY_TERMS: 120 (108)", async () => {
    const eq = (i: number) => ["eq", kp("title"), `v${i}`];
    const five = [0, 1, 2, 3, 4];
    for (const [body, code] of [
      [{ predicate: ["or", ...five.map(eq)] }, 120],
      [{ sort: five.map(() => [kp("title"), "asc"]) }, 120],
      [{ include: Object.fromEntries(five.map((i) => [`k${i}`, kp("_owner")])) }, 120],
      [{ desired_keys: five.map(() => "title") }, 108],
    ] as const) {
      const r = await query(body);
      expect([r.status, r.json.error.code]).toEqual([400, code]);
      expect(r.json.error.message).toContain("SKYFLOW_MAX_QUERY_TERMS");
    }
    expect((await query({ predicate: ["or", ...five.slice(1).map(eq)] })).status).toBe(200);
  });

  it("a field value nested past SKYFLOW_MAX_VALUE_DEPTH: 108 for that record", async () => {
    const r = await save({ records: [{ _id: "note/deep", m: { a: { b: [1] } } }] });
    expect(r.json.result[0]).toMatchObject({ _type: "error", code: 108 });
    expect(r.json.result[0].message).toContain("SKYFLOW_MAX_VALUE_DEPTH");
    expect((await save({ records: [{ _id: "note/ok", m: { a: [1] } }] })).json.result[0]._type).toBe(
      "record",
    );
  });
});

describe("constraint names", () => {
  it("two reference fields sharing their first 60 characters both save, with distinct constraints", async () => {
    const base = "r".repeat(60);
    await save({ records: [{ _id: "target/t1", n: 1 }] });
    const r = await save({
      records: [
        {
          _id: "holder/h1",
          [`${base}1`]: { $type: "ref", $id: "target/t1" },
          [`${base}2`]: { $type: "ref", $id: "target/t1" },
        },
      ],
    });
    expect(r.json.result[0]._type).toBe("record");
    const { rows } = await h.db.pool.query(
      `SELECT conname FROM pg_constraint WHERE conrelid = 'app_testapp.holder'::regclass AND contype = 'f'`,
    );
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((x) => x.conname)).size).toBe(2);
  });

  it("keeps v1's name when it fits, else a prefix and a hash within 63 bytes", () => {
    expect(constraintName("fk_owner_user__id")).toBe("fk_owner_user__id");
    const a = constraintName(`fk_${"é".repeat(40)}_a_target__id`);
    const b = constraintName(`fk_${"é".repeat(40)}_b_target__id`);
    expect(a).not.toBe(b);
    for (const n of [a, b]) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
  });
});
