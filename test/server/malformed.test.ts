// Malformed input over raw HTTP (issue 2): each gets the v1 error name, code and HTTP status, and nothing is
// written to the database.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultStatus, ERROR_CODES, type ErrorName } from "../../src/server/errors.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { post } from "./http-client.js";

let db: TestDatabase;
let srv: TestServer;
const MASTER = { "X-Skygear-API-Key": TEST_MASTER_KEY };
const kp = (v: string) => ({ $type: "keypath", $val: v });

beforeAll(async () => {
  db = await createTestDatabase("server_malformed");
  srv = await startTestServer(db.pool);
  // A table with one row, so "nothing written" is checked against a real table.
  const r = await post(srv.url, "/record/save", { records: [{ _id: "thing/seed", title: "seed" }] }, MASTER);
  expect(r.status).toBe(200);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

let before: string;
async function snapshot(): Promise<string> {
  const tables = await db.pool.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'app_testapp' ORDER BY 1`,
  );
  const rows = await db.pool.query(
    `SELECT count(*)::int AS n, max(_updated_at)::text AS u FROM app_testapp.thing`,
  );
  const cols = await db.pool.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = 'app_testapp' AND table_name = 'thing'
      ORDER BY 1`,
  );
  return JSON.stringify([tables.rows, rows.rows, cols.rows]);
}
beforeEach(async () => {
  before = await snapshot();
});

/** The name and code agree with the v1 table, and the status is the code's v1 status. */
function expectV1Error(
  r: { status: number; json: { error?: { name: string; code: number } } },
  names: ErrorName[],
) {
  const err = r.json?.error;
  expect(err).toBeDefined();
  expect(names).toContain(err!.name);
  expect(err!.code).toBe(ERROR_CODES[err!.name as ErrorName]);
  expect(r.status).toBe(defaultStatus(err!.name as ErrorName));
}

describe("malformed input", () => {
  it("a body that is not JSON: 400 BadRequest (v1 sends the status alone)", async () => {
    const r = await post(srv.url, "/record/save", '{"records": [', MASTER);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ name: "BadRequest", code: 107 });
    expect(await snapshot()).toBe(before);
  });

  it("an unknown action: UndefinedOperation 117 / 404", async () => {
    const r = await post(srv.url, "/record/upsert", { records: [{ _id: "thing/x", title: "x" }] }, MASTER);
    expect(r.json.error).toEqual({ name: "UndefinedOperation", code: 117, message: "route unmatched" });
    expect(r.status).toBe(404);
    expect(await snapshot()).toBe(before);
  });

  it("a bad predicate: InvalidArgument 108 or RecordQueryInvalid 120, HTTP 400", async () => {
    for (const predicate of [["nope", kp("title"), "x"], ["eq", kp("title")], "not-an-array", ["and", "x"]]) {
      const r = await post(srv.url, "/record/query", { record_type: "thing", predicate }, MASTER);
      expectV1Error(r, ["InvalidArgument", "RecordQueryInvalid"]);
    }
  });

  it("an _id without a type: 108, per item in a 200 (non-atomic) or for the request (atomic)", async () => {
    const loose = await post(srv.url, "/record/save", { records: [{ _id: "notype", title: "x" }] }, MASTER);
    expect(loose.status).toBe(200);
    expect(loose.json.result[0]).toMatchObject({ _type: "error", name: "InvalidArgument", code: 108 });
    expect(loose.json.result[0]._id).toBeUndefined();
    const atomic = await post(
      srv.url,
      "/record/save",
      {
        atomic: true,
        records: [
          { _id: "thing/ok", title: "ok" },
          { _id: "notype", title: "x" },
        ],
      },
      MASTER,
    );
    expectV1Error(atomic, ["InvalidArgument"]);
    expect(await snapshot()).toBe(before);
  });

  it("an unknown $type: InvalidArgument 108, nothing written", async () => {
    const body = { records: [{ _id: "thing/typed", title: "x", odd: { $type: "martian", $val: 1 } }] };
    const loose = await post(srv.url, "/record/save", body, MASTER);
    if (loose.status === 200) {
      expect(loose.json.result[0]).toMatchObject({ _type: "error", name: "InvalidArgument", code: 108 });
    } else {
      expectV1Error(loose, ["InvalidArgument"]);
    }
    const atomic = await post(srv.url, "/record/save", { ...body, atomic: true }, MASTER);
    expectV1Error(atomic, ["InvalidArgument"]);
    expect(await snapshot()).toBe(before);
  });

  it("a wrong key: AccessKeyNotAccepted 103 / 401, nothing written", async () => {
    const r = await post(
      srv.url,
      "/record/save",
      { records: [{ _id: "thing/w", title: "w" }] },
      { "X-Skygear-API-Key": `${TEST_API_KEY}-wrong` },
    );
    expect(r.json.error).toMatchObject({ name: "AccessKeyNotAccepted", code: 103 });
    expect(r.status).toBe(401);
    expect(await snapshot()).toBe(before);
  });
});
