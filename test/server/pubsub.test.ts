// The pubsub hubs over real websockets (protocol §8): key check before the upgrade, frames, echo, errors.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Hub, type HubSocket, STUCK_BUFFER_BYTES } from "../../src/server/pubsub/hub.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";

let db: TestDatabase;
let srv: TestServer;
const open: WebSocket[] = [];

beforeAll(async () => {
  db = await createTestDatabase("server_pubsub");
  srv = await startTestServer(db.pool);
});
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

function wsUrl(path: string): string {
  return new URL(path, srv.url.replace(/^http/, "ws")).toString();
}

/** Connects and collects every text frame; resolves once open. */
async function connect(path: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(wsUrl(path), { headers });
  open.push(ws);
  const frames: string[] = [];
  ws.on("message", (d) => frames.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, frames };
}

function refusal(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), { headers });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => reject(new Error("upgrade should have been refused")));
    ws.on("error", () => {});
  });
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A sub is applied when a later frame on the same socket is; round-trip a pub to be sure. */
async function settle(ws: WebSocket, frames: string[]): Promise<void> {
  const ch = `settle-${Math.random()}`;
  ws.send(JSON.stringify({ action: "sub", channel: ch }));
  ws.send(JSON.stringify({ action: "pub", channel: ch, data: { s: 1 } }));
  await until(() => frames.some((f) => f.includes(ch)));
}

describe("upgrade", () => {
  it("refuses a missing key with JSON 101 / 401 before the upgrade", async () => {
    const r = await refusal("/pubsub");
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error).toMatchObject({ name: "NotAuthenticated", code: 101 });
  });

  it("refuses a wrong key with 103 / 401", async () => {
    const r = await refusal("/pubsub?api_key=wrong");
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error).toMatchObject({ name: "AccessKeyNotAccepted", code: 103 });
  });

  it("accepts the key as a query parameter or a header, client or master", async () => {
    await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    await connect("/_/pubsub", { "X-Skygear-API-Key": TEST_MASTER_KEY });
  });
});

describe("frames", () => {
  it("echoes a publish to the publisher's own subscription and to other subscribers", async () => {
    const a = await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    const b = await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    a.ws.send(JSON.stringify({ action: "sub", channel: "room" }));
    b.ws.send(JSON.stringify({ action: "sub", channel: "room" }));
    await settle(a.ws, a.frames);
    await settle(b.ws, b.frames);
    a.ws.send(JSON.stringify({ action: "pub", channel: "room", data: { text: "hi", n: [1, 2] } }));
    const want = { channel: "room", data: { text: "hi", n: [1, 2] } };
    await until(
      () => a.frames.some((f) => f.includes('"room"')) && b.frames.some((f) => f.includes('"room"')),
    );
    expect(JSON.parse(a.frames.find((f) => f.includes('"room"'))!)).toEqual(want);
    expect(JSON.parse(b.frames.find((f) => f.includes('"room"'))!)).toEqual(want);
  });

  it("stops delivery after unsub and keeps the hubs apart", async () => {
    const pub = await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    const internal = await connect(`/_/pubsub?api_key=${TEST_API_KEY}`);
    internal.ws.send(JSON.stringify({ action: "sub", channel: "x" }));
    pub.ws.send(JSON.stringify({ action: "sub", channel: "x" }));
    pub.ws.send(JSON.stringify({ action: "unsub", channel: "x" }));
    await settle(internal.ws, internal.frames);
    await settle(pub.ws, pub.frames);
    pub.ws.send(JSON.stringify({ action: "pub", channel: "x", data: { v: 1 } }));
    await settle(pub.ws, pub.frames);
    await settle(internal.ws, internal.frames);
    expect(pub.frames.filter((f) => f.includes('"x"'))).toEqual([]);
    expect(internal.frames.filter((f) => f.includes('"x"'))).toEqual([]);
  });

  it("answers an unknown action with the text 'Unknow action' and stays open", async () => {
    const c = await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    c.ws.send(JSON.stringify({ action: "dance", channel: "x" }));
    await until(() => c.frames.length > 0);
    expect(c.frames[0]).toBe("Unknow action");
    await settle(c.ws, c.frames);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it.each([
    ["invalid JSON", "{nope"],
    ["an empty channel", JSON.stringify({ action: "sub", channel: "" })],
    ["a pub without data", JSON.stringify({ action: "pub", channel: "c" })],
    ["a pub with null data", JSON.stringify({ action: "pub", channel: "c", data: null })],
  ])("sends a text error frame and closes on %s", async (_label, frame) => {
    const c = await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    const closed = new Promise<void>((r) => c.ws.once("close", () => r()));
    c.ws.send(frame);
    await closed;
    expect(c.frames).toHaveLength(1);
    expect(() => JSON.parse(c.frames[0]!)).toThrow();
  });

  it("delivers what server code publishes through AppContext.publish", async () => {
    const c = await connect(`/_/pubsub?api_key=${TEST_API_KEY}`);
    c.ws.send(JSON.stringify({ action: "sub", channel: "_sub_dev1" }));
    await settle(c.ws, c.frames);
    srv.handler.app.publish("internal", "_sub_dev1", { "seq-num": 1 });
    srv.handler.app.publish("public", "_sub_dev1", { wrong: "hub" });
    await until(() => c.frames.some((f) => f.includes("_sub_dev1")));
    await settle(c.ws, c.frames);
    expect(c.frames.filter((f) => f.includes("_sub_dev1")).map((f) => JSON.parse(f))).toEqual([
      { channel: "_sub_dev1", data: { "seq-num": 1 } },
    ]);
  });

  it("drops the subscriptions of a closed socket", async () => {
    const c = await connect(`/pubsub?api_key=${TEST_API_KEY}`);
    c.ws.send(JSON.stringify({ action: "sub", channel: "gone" }));
    await settle(c.ws, c.frames);
    expect(srv.handler.hubs.public.subscriberCount("gone")).toBe(1);
    c.ws.close();
    await until(() => srv.handler.hubs.public.subscriberCount("gone") === 0);
  });
});

describe("shutdown", () => {
  it("closes open pubsub sockets and refuses new connections when the server closes", async () => {
    const other = await startTestServer(db.pool);
    const ws = new WebSocket(`${other.url.replace(/^http/, "ws")}pubsub?api_key=${TEST_API_KEY}`);
    open.push(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const closed = new Promise<void>((r) => ws.once("close", () => r()));
    await other.close();
    await closed;
    expect(other.handler.hubs.public.connectionCount).toBe(0);
    await expect(fetch(other.url, { method: "POST" })).rejects.toThrow();
  });
});

describe("Hub", () => {
  function socket(buffered: number): HubSocket & { sent: string[] } {
    const sent: string[] = [];
    return { readyState: 1, bufferedAmount: buffered, sent, send: (d) => sent.push(d), close() {} };
  }

  it("skips a subscriber whose send buffer is stuck and still serves the others", () => {
    const hub = new Hub("public");
    const stuck = socket(STUCK_BUFFER_BYTES + 1);
    const fine = socket(0);
    hub.subscribe(stuck, "c");
    hub.subscribe(fine, "c");
    expect(hub.publish("c", { a: 1 })).toBe(1);
    expect(stuck.sent).toEqual([]);
    expect(fine.sent).toEqual(['{"channel":"c","data":{"a":1}}']);
    expect(hub.dropped).toBe(1);
  });

  it("subscribes idempotently per socket", () => {
    const hub = new Hub("public");
    const s = socket(0);
    hub.subscribe(s, "c");
    hub.subscribe(s, "c");
    expect(hub.publish("c", 1)).toBe(1);
    expect(s.sent).toHaveLength(1);
  });
});
