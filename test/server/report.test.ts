// What reaches the client and the log when a request fails inside the database (issue 20, points 4 and 6):
// Postgres errors map by SQLSTATE to Skygear errors without the database's message; an unexpected one is a
// generic 500 whose cause the log shows with its quoted values removed; no key or token in either.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toSkygearError } from "../../src/server/records/pg-errors.js";
import { describeError } from "../../src/server/report.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { capturedLogger } from "../helpers/log.js";
import { startTestServer, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { post } from "./http-client.js";

let db: TestDatabase;
let srv: TestServer;
const { log, lines } = capturedLogger("trace");

/** The error Postgres raises for `sql`. */
async function pgError(sql: string): Promise<unknown> {
  try {
    await db.pool.query(sql);
  } catch (err) {
    return err;
  }
  throw new Error(`${sql} succeeded`);
}

beforeAll(async () => {
  db = await createTestDatabase("server_report");
  srv = await startTestServer(db.pool, {
    log,
    actions: [
      {
        name: "test:pgfail",
        auth: "none",
        handle: async (req) => {
          await req.app.pool.query("SELECT $1::int", ["hunter2-value"]);
          return { result: null };
        },
      },
      {
        name: "test:deadlock",
        auth: "none",
        handle: async (req) => {
          await req.app.pool.query(
            "DO $$ BEGIN RAISE EXCEPTION 'quoted %', 'hunter2-value' USING ERRCODE = '40P01'; END $$",
          );
          return { result: null };
        },
      },
    ],
  });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe("database errors", () => {
  it("map by SQLSTATE to 4xx Skygear errors without the database's message", async () => {
    const syntax = toSkygearError(await pgError("SELECT 'hunter2'::int"));
    expect([syntax.errorName, syntax.status, syntax.message]).toEqual([
      "InvalidArgument",
      400,
      "invalid value: a value does not match the type of its field (SQLSTATE 22P02)",
    ]);
    expect(toSkygearError(await pgError("SELECT '1e400'::float8")).message).toMatch(/out of range.*22003/);
    await db.pool.query("CREATE TABLE idx_probe (v text PRIMARY KEY)");
    const big = toSkygearError(
      await pgError(
        `INSERT INTO idx_probe SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i`,
      ),
    );
    expect([big.errorName, big.message]).toEqual([
      "InvalidArgument",
      "a value or record is too large to store or index (SQLSTATE 54000)",
    ]);
    const q = toSkygearError(await pgError("SELECT nosuchcolumn"), "query");
    expect([q.errorName, q.status]).toEqual(["RecordQueryInvalid", 400]);
    expect(q.message).not.toContain("nosuchcolumn");
  });

  it("an unexpected one is a generic 500; the log has its kind and SQLSTATE, not the value", async () => {
    for (const action of ["test/pgfail", "test/deadlock"]) {
      const r = await post(srv.url, action, {}, { "X-Skygear-API-Key": TEST_MASTER_KEY });
      if (action === "test/pgfail") {
        expect(r.status).toBe(400);
        expect(r.json.error.code).toBe(108);
      } else {
        expect(r.status).toBe(500);
        expect(r.json.error).toEqual({
          name: "UnexpectedError",
          code: 10000,
          message: "An unexpected error occurred",
        });
      }
      expect(r.text).not.toContain("hunter2");
    }
    const logged = lines.filter((l) => l.includes("request failed unexpectedly"));
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0]!)).toMatchObject({ action: "test:deadlock", cause: { code: "40P01" } });
    expect(lines.join("\n")).not.toContain("hunter2");
    expect(lines.join("\n")).not.toContain(TEST_MASTER_KEY);
  });

  it("describeError keeps a program error's message and stack, and removes a database error's quotes", async () => {
    const d = describeError(await pgError("SELECT 'secret-literal'::int"));
    expect(d).toMatchObject({ code: "22P02" });
    expect(JSON.stringify(d)).not.toContain("secret-literal");
    const t = describeError(new TypeError("x is not a function"));
    expect(t).toMatchObject({ name: "TypeError", message: "x is not a function" });
    expect(t.stack).toEqual(expect.any(String));
  });
});
