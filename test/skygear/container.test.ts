// The container against the real Skygear-compatible server (test/helpers/server.ts), once over HTTP and once
// in-process: the same scenario must give the same results, statuses and error classifications.
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SkygearServerError } from "../../src/server/errors.js";
import type { ActionSpec } from "../../src/server/types.js";
import { createContainer, SkygearContainer } from "../../src/skygear/container.js";
import { createHttpTransport } from "../../src/skygear/transport-http.js";
import { createInProcessTransport } from "../../src/skygear/transport-inprocess.js";
import type { Transport } from "../../src/skygear/types.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { scrubbedRejection } from "../helpers/rejection.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";

const kp = (field: string) => ({ $type: "keypath", $val: field });

/** Hanging calls are released after each test so no server work outlives the file. */
const hanging: (() => void)[] = [];
const extraActions: ActionSpec[] = [
  {
    name: "test:unavailable",
    auth: "none",
    handle: async () => {
      throw new SkygearServerError("PluginUnavailable", "plugins are not ready");
    },
  },
  {
    name: "test:hang",
    auth: "none",
    handle: () => new Promise((resolve) => hanging.push(() => resolve({ result: "late" }))),
  },
];

let db: TestDatabase;
let server: TestServer;

beforeAll(async () => {
  db = await createTestDatabase("skygear_container");
  server = await startTestServer(db.pool, { actions: extraActions });
});

afterEach(() => {
  for (const release of hanging.splice(0)) release();
});

afterAll(async () => {
  await server.close();
  await db.drop();
});

const rejection = (p: Promise<unknown>) => scrubbedRejection(p, [TEST_MASTER_KEY, TEST_API_KEY]);

describe.each([["http"], ["in-process"]])("the container over %s against the real server", (kind) => {
  let transport: Transport;
  let master: SkygearContainer;
  let client: SkygearContainer;
  let alice: string;
  let bob: { id: string; token: string };
  const type = `note_${kind.replace("-", "_")}`;

  beforeAll(async () => {
    transport =
      kind === "http"
        ? createHttpTransport({ endpoint: server.url })
        : createInProcessTransport(server.handler);
    master = new SkygearContainer({ transport, apiKey: TEST_MASTER_KEY, timeoutMs: 10_000 });
    client = new SkygearContainer({ transport, apiKey: TEST_API_KEY, timeoutMs: 10_000 });
    const signup = (name: string) =>
      client.sendAction("auth:signup", {
        auth_data: { username: `${name}-${kind}` },
        password: "pw-123",
      }) as Promise<{
        user_id: string;
        access_token: string;
      }>;
    alice = (await signup("alice")).user_id;
    const b = await signup("bob");
    bob = { id: b.user_id, token: b.access_token };
  });

  afterAll(() => transport.close?.());

  it("saves as an impersonated user, queries with a predicate and count, updates and deletes", async () => {
    const asAlice = master.asUser(`user/${alice}`);
    const ids = [`${type}/${randomUUID()}`, `${type}/${randomUUID()}`, `${type}/${randomUUID()}`];
    const saved = await asAlice.save([
      { _id: ids[0]!, title: "keep", n: 1 },
      { _id: ids[1]!, title: "keep", n: 2 },
      { _id: ids[2]!, title: "other", n: 3 },
    ]);
    expect(saved.map((r) => [r._id, r._ownerID])).toEqual(ids.map((id) => [id, alice]));

    const predicate = ["and", ["eq", kp("title"), "keep"], ["gte", kp("n"), 1]];
    const page = await master.query({
      recordType: type,
      predicate,
      sort: [[kp("n"), "desc"]],
      limit: 1,
      count: true,
    });
    expect(page.records.map((r) => r._id)).toEqual([ids[1]]);
    expect(page.count).toBe(2);

    const [updated] = await asAlice.save([{ _id: ids[1]!, n: 20 }]);
    expect(updated).toMatchObject({ _id: ids[1], title: "keep", n: 20 });

    await expect(asAlice.delete([ids[0]!, ids[2]!])).resolves.toEqual([ids[0], ids[2]]);
    const left = await master.query({ recordType: type });
    expect(left.records.map((r) => [r._id, r.n])).toEqual([[ids[1], 20]]);
    expect(left.count).toBeUndefined();
  });

  it("logs in and acts with the access token", async () => {
    const me = (await client.withAccessToken(bob.token).sendAction("me")) as { user_id: string };
    expect(me.user_id).toBe(bob.id);
  });

  it("surfaces a per-record error inside a 200, naming what did succeed", async () => {
    const real = `${type}/${randomUUID()}`;
    await master.asUser(alice).save([{ _id: real, title: "x" }]);
    const e = await rejection(master.asUser(alice).delete([real, `${type}/missing-${randomUUID()}`]));
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual([
      "ResourceNotFound",
      110,
      200,
      false,
    ]);
    expect(e.info).toMatchObject({ succeeded: [real] });
  });

  it("classifies PermissionDenied on another user's record as not retryable", async () => {
    const id = `${type}/${randomUUID()}`;
    const ownerOnly = [{ level: "write", user_id: alice }];
    await master.asUser(alice).save([{ _id: id, _access: ownerOnly, title: "private" }]);
    const asBob = client.withAccessToken(bob.token);
    const e = await rejection(asBob.save([{ _id: id, title: "stolen" }]));
    expect([e.errorName, e.skygearCode, e.retryable]).toEqual(["PermissionDenied", 102, false]);
    expect(e.message).not.toContain(bob.token);
  });

  it("classifies a wrong key as AccessKeyNotAccepted without echoing the key", async () => {
    const wrong = new SkygearContainer({ transport, apiKey: "wrong-key-xyz" });
    const e = await rejection(wrong.query({ recordType: type }));
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual([
      "AccessKeyNotAccepted",
      103,
      401,
      false,
    ]);
    expect(e.message).not.toContain("wrong-key-xyz");
  });

  it("classifies a 503 as retryable", async () => {
    const e = await rejection(master.sendAction("test:unavailable"));
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual([
      "PluginUnavailable",
      118,
      503,
      true,
    ]);
  });

  it("fails an expired call with a retryable Timeout and an aborted one with Aborted", async () => {
    const t = await rejection(master.sendAction("test:hang", {}, { timeoutMs: 100 }));
    expect([t.errorName, t.retryable]).toEqual(["Timeout", true]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const a = await rejection(master.sendAction("test:hang", {}, { signal: ac.signal }));
    expect([a.errorName, a.retryable]).toEqual(["Aborted", false]);
  });

  it("records pushes to users", async () => {
    const out = await master.pushToUsers([alice], { apns: { aps: { alert: "hi" } } });
    expect(out).toEqual([{ _id: alice }]);
  });
});

describe("createContainer", () => {
  it("builds an HTTP container acting with the master key, closed with close()", async () => {
    const c = createContainer({ endpoint: server.url, apiKey: TEST_API_KEY, masterKey: TEST_MASTER_KEY });
    const me = (await c.asUser("someone").sendAction("me")) as { user_id: string };
    expect(me.user_id).toBe("someone");
    await c.close();
    const e = await rejection(c.sendAction("me"));
    expect(e.errorName).toBe("NetworkError");
  });
});
