import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { anonymous, call, callError, kp, makeApp, master, query, type Rec, save, user } from "./helpers.js";

let db: TestDatabase;
let app: AppContext;
const alice = user("alice");
const bob = user("bob");

beforeAll(async () => {
  db = await createTestDatabase("rec_field_acl");
  app = await makeApp(db.pool);
  await save(app, [{ _id: "user/alice", username: "alice", email: "a@example.com", nickname: "Al" }], alice);
});
afterAll(async () => {
  await db.drop();
});

describe("seeded field access of user.username and user.email", () => {
  it("anonymous callers do not get them; logged-in users and the master key do", async () => {
    const [anon] = await query(app, { record_type: "user" }, anonymous);
    expect(anon).toMatchObject({ _id: "user/alice", nickname: "Al" });
    expect(anon).not.toHaveProperty("username");
    expect(anon).not.toHaveProperty("email");
    expect((await query(app, { record_type: "user" }, bob))[0]).toMatchObject({
      username: "alice",
      email: "a@example.com",
    });
    const fetched = (await call(app, "record:fetch", { ids: ["user/alice"] }, anonymous)).result as Rec[];
    expect(fetched[0]).not.toHaveProperty("email");
    expect((await query(app, { record_type: "user" }, master))[0]).toHaveProperty("email");
  });

  it("anonymous callers may not query by them (124); logged-in users may", async () => {
    const err = await callError(
      app,
      "record:query",
      { record_type: "user", predicate: ["eq", kp("email"), "a@example.com"] },
      anonymous,
    );
    expect(err).toMatchObject({ code: 124, status: 403 });
    const sorted = await callError(
      app,
      "record:query",
      { record_type: "user", sort: [[kp("username"), "asc"]] },
      anonymous,
    );
    expect(sorted.code).toBe(124);
    expect(
      await query(app, { record_type: "user", predicate: ["eq", kp("email"), "a@example.com"] }, bob),
    ).toHaveLength(1);
  });

  it("another user's write to them is dropped, or refused in an atomic save; other fields are written", async () => {
    const [rec] = await save(app, [{ _id: "user/alice", username: "mallory", nickname: "Bobbed" }], bob);
    expect(rec).toMatchObject({ username: "alice", nickname: "Bobbed" });
    const err = await callError(
      app,
      "record:save",
      { atomic: true, records: [{ _id: "user/alice", email: "m@x" }] },
      bob,
    );
    expect(err.code).toBe(115);
    expect(err.info).toEqual({
      "user/alice": expect.objectContaining({ code: 123, name: "DeniedArgument" }),
    });
    const [own] = await save(app, [{ _id: "user/alice", email: "new@example.com" }], alice);
    expect(own!.email).toBe("new@example.com");
  });

  it("other record types are not affected", async () => {
    await save(app, [{ _id: "card/c1", email: "x@y" }], alice);
    expect((await query(app, { record_type: "card" }, anonymous))[0]).toHaveProperty("email", "x@y");
  });
});
