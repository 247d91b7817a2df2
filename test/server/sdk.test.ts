// The official Skygear JS SDK (npm skygear 1.7.2) against a real server on 127.0.0.1:0: what issue 2 names
// as the compatibility check. In Node the SDK needs a storage (one in-memory store per container here, so
// users do not share tokens) and a WebSocket (it uses the `websocket` package's w3c client by itself).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type Any, closeContainer, sdkContainer } from "../helpers/sdk.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { get } from "./http-client.js";

let db: TestDatabase;
let srv: TestServer;
const containers: Any[] = [];

async function newContainer(): Promise<Any> {
  const c = await sdkContainer(srv.url, TEST_API_KEY);
  containers.push(c);
  return c;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The SDK rejects with `{status, error}`; this returns that error's code. */
async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as Any)?.error?.code ?? (e as Any)?.code;
  }
  throw new Error("expected the SDK call to fail");
}

let alice: Any;
let bob: Any;
let anon: Any;
let Note: Any;

beforeAll(async () => {
  db = await createTestDatabase("server_sdk");
  srv = await startTestServer(db.pool);
  alice = await newContainer();
  bob = await newContainer();
  anon = await newContainer();
  Note = alice.Record.extend("sdknote");
});
afterAll(async () => {
  for (const c of containers) closeContainer(c);
  await srv?.close();
  await db?.drop();
});

describe("auth through the SDK", () => {
  it("signs up and logs in", async () => {
    const user = await alice.auth.signupWithUsername("alice", "pw-alice", { nickname: "Al" });
    expect(user.username).toBe("alice");
    expect(user.nickname).toBe("Al");
    expect(alice.auth.accessToken).toEqual(expect.any(String));
    await bob.auth.signupWithUsername("bob", "pw-bob");
    const again = await newContainer();
    const back = await again.auth.loginWithUsername("alice", "pw-alice");
    expect(back.id).toBe(user.id);
    expect(back.nickname).toBe("Al");
    expect(await codeOf(again.auth.loginWithUsername("alice", "nope"))).toBe(105);
  });
});

describe("records through the SDK", () => {
  it("saves with and without _access and queries with every operator", async () => {
    const saved = await alice.publicDB.save([
      new Note({ title: "apple pie", n: 1, tag: "food" }),
      new Note({ title: "banana", n: 2, tag: "fruit" }),
      new Note({ title: "cherry tart", n: 3, tag: "food" }),
    ]);
    // With several records the SDK resolves with {savedRecords, errors}.
    expect(saved.errors.filter(Boolean)).toEqual([]);
    const [a, b, c] = saved.savedRecords;
    expect(a.ownerID).toBe(alice.auth.currentUser._id);
    const stored = await db.pool.query("SELECT _access FROM app_testapp.sdknote WHERE _id = $1", [a._id]);
    expect(stored.rows[0]._access).toBeNull();
    const titles = async (q: Any) => (await alice.publicDB.query(q)).map((r: Any) => r.title);
    const q = () => {
      const x = new alice.Query(Note);
      x.addAscending("n");
      return x;
    };
    expect(await titles(q().equalTo("title", "banana"))).toEqual(["banana"]);
    expect(await titles(q().notEqualTo("tag", "food"))).toEqual(["banana"]);
    expect(await titles(q().greaterThan("n", 1))).toEqual(["banana", "cherry tart"]);
    expect(await titles(q().like("title", "%tart"))).toEqual(["cherry tart"]);
    expect(await titles(q().contains("tag", ["fruit", "other"]))).toEqual(["banana"]);
    const and = alice.Query.and(q().greaterThan("n", 1), q().equalTo("tag", "food"));
    expect(await titles(and)).toEqual(["cherry tart"]);
    const or = alice.Query.or(q().equalTo("title", "apple pie"), q().equalTo("n", 3));
    or.addAscending("n");
    expect(await titles(or)).toEqual(["apple pie", "cherry tart"]);
    const not = alice.Query.not(q().equalTo("tag", "food"));
    expect(await titles(not)).toEqual(["banana"]);
    const page = new alice.Query(Note);
    page.addDescending("n");
    page.limit = 2;
    page.overallCount = true;
    const res = await alice.publicDB.query(page);
    expect(res.map((r: Any) => r.title)).toEqual(["cherry tart", "banana"]);
    expect(res.overallCount).toBe(3);
    expect([a.title, b.title, c.title]).toEqual(["apple pie", "banana", "cherry tart"]);
  });

  it("updates and deletes", async () => {
    const [cherry] = await alice.publicDB.query(new alice.Query(Note).equalTo("title", "cherry tart"));
    cherry.n = 30;
    await alice.publicDB.save(cherry);
    const [updated] = await alice.publicDB.query(new alice.Query(Note).greaterThan("n", 10));
    expect([updated.title, updated.n]).toEqual(["cherry tart", 30]);
    const [banana] = await alice.publicDB.query(new alice.Query(Note).equalTo("title", "banana"));
    await alice.publicDB.delete(banana);
    const left = await alice.publicDB.query(new alice.Query(Note).equalTo("title", "banana"));
    expect(left.length).toBe(0);
  });

  it("refuses an owner-only record to another user", async () => {
    const secret = new Note({ title: "secret", n: 99 });
    secret.setPublicNoAccess();
    await alice.publicDB.save(secret);
    const mine = await alice.publicDB.query(new alice.Query(Note).equalTo("title", "secret"));
    expect(mine.length).toBe(1);
    const theirs = await bob.publicDB.query(new bob.Query(Note).equalTo("title", "secret"));
    expect(theirs.length).toBe(0);
    const BobNote = bob.Record.extend("sdknote");
    const overwrite = new BobNote({ _id: secret.id, title: "hacked" });
    await expect(bob.publicDB.save(overwrite)).rejects.toBeTruthy();
    const row = await db.pool.query(`SELECT title FROM app_testapp.sdknote WHERE _id = $1`, [secret._id]);
    expect(row.rows[0].title).toBe("secret");
  });

  it("reads a public-read record without login and refuses an anonymous save", async () => {
    const open = new Note({ title: "notice", n: 7 });
    open.setPublicReadOnly();
    await alice.publicDB.save(open);
    const seen = await anon.publicDB.query(new anon.Query(Note).equalTo("title", "notice"));
    expect(seen.map((r: Any) => r.n)).toEqual([7]);
    expect(await codeOf(anon.publicDB.save(new Note({ title: "anon" })))).toBe(101);
  });
});

describe("pubsub, devices and push through the SDK", () => {
  it("echoes a publish to the publisher's own handler", async () => {
    const got: unknown[] = [];
    alice.pubsub.on("chat", (d: unknown) => got.push(d));
    await until(() => alice.pubsub._pubsub.connected);
    alice.pubsub.publish("chat", { text: "hi" });
    await until(() => got.length > 0);
    expect(got).toEqual([{ text: "hi" }]);
  });

  it("registers a device and records a push to its user", async () => {
    const deviceId = await alice.push.registerDevice("apns-token-1", "ios", "com.example.app");
    expect(deviceId).toMatch(/^[0-9a-f-]{36}$/);
    const userId = alice.auth.currentUser._id;
    const result = await bob.push.sendToUser(userId, { apns: { aps: { alert: "hello" } } });
    expect(result).toEqual([{ _id: userId }]);
    const listed = await get(srv.url, "/_skyflow/pushes", { "X-Skygear-API-Key": TEST_MASTER_KEY });
    expect(listed.json.result[0]).toMatchObject({
      kind: "user",
      ids: [userId],
      notification: { apns: { aps: { alert: "hello" } } },
      devices: [{ id: deviceId, type: "ios", user_id: userId, topic: "com.example.app" }],
    });
    const refused = await get(srv.url, "/_skyflow/pushes", { "X-Skygear-API-Key": TEST_API_KEY });
    expect(refused.status).toBe(401);
  });
});
