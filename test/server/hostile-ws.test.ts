// Hostile pubsub websocket clients (issue 20, point 4): malformed, binary, huge and deep frames, bad text,
// too many subscriptions and floods. Each bad frame gets a text error frame and a close (as v1 closes on an
// undecodable frame), nothing bad reaches a subscriber, and the server keeps serving.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { MAX_CHANNEL_BYTES } from "../../src/server/pubsub/frames.js";
import { MAX_FRAME_BYTES, MAX_SUBSCRIPTIONS } from "../../src/server/pubsub/ws.js";
import { TEST_API_KEY } from "../helpers/server.js";
import { expectNoSecrets, type Hostile, masterKey, startHostile } from "./hostile-kit.js";
import { post } from "./http-client.js";

let h: Hostile;
const open: WebSocket[] = [];

beforeAll(async () => {
  h = await startHostile("hostile_ws");
});
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});
afterAll(async () => {
  await h?.close();
});

const url = (path: string) => new URL(path, h.srv.url.replace(/^http/, "ws")).toString();

async function connect(path = `/pubsub?api_key=${TEST_API_KEY}`) {
  const ws = new WebSocket(url(path));
  open.push(ws);
  const frames: string[] = [];
  ws.on("message", (d) => frames.push(d.toString()));
  ws.on("error", () => {});
  const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", () => reject(new Error("refused")));
  });
  return { ws, frames, closed };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A subscriber on `channel` that records what it receives. */
async function listener(channel: string) {
  const c = await connect();
  c.ws.send(JSON.stringify({ action: "sub", channel }));
  c.ws.send(JSON.stringify({ action: "pub", channel, data: { ready: true } }));
  await until(() => c.frames.some((f) => f.includes('"ready"')));
  return c;
}

/** The server still answers HTTP and pubsub. */
async function alive(): Promise<void> {
  const r = await post(h.srv.url, "/_status/healthz", {});
  expect(r.status).toBe(200);
  const c = await listener(`alive-${Math.random()}`);
  c.ws.close();
}

const nested = (n: number, open: string, leaf: string, close: string) =>
  `${open.repeat(n)}${leaf}${close.repeat(n)}`;

const BAD_FRAMES: [string, string | Buffer][] = [
  ["invalid JSON", "{nope"],
  ["a JSON array", "[1,2,3]"],
  ["a JSON string", '"sub"'],
  ["a channel that is not a string", JSON.stringify({ action: "sub", channel: 5 })],
  ["an empty channel", JSON.stringify({ action: "sub", channel: "" })],
  ["a pub without data", JSON.stringify({ action: "pub", channel: "c" })],
  ["NUL in a channel", JSON.stringify({ action: "sub", channel: "a\u0000b" })],
  ["NUL in pub data", JSON.stringify({ action: "pub", channel: "victim", data: { t: "\u0000" } })],
  ["NUL in a key of pub data", JSON.stringify({ action: "pub", channel: "victim", data: { "\u0000": 1 } })],
  [
    "a lone surrogate in pub data",
    JSON.stringify({ action: "pub", channel: "victim", data: { t: "\ud800" } }),
  ],
  ["a lone surrogate in a channel", JSON.stringify({ action: "sub", channel: "\udfff" })],
  ["a number past float64 in pub data", '{"action":"pub","channel":"victim","data":{"n":1e400}}'],
  ["a channel name too long", JSON.stringify({ action: "sub", channel: "c".repeat(MAX_CHANNEL_BYTES + 1) })],
  [
    "a frame nested 100,000 deep",
    `{"action":"pub","channel":"victim","data":${nested(100_000, "[", "1", "]")}}`,
  ],
  [
    "pub data nested 100,000 deep in objects",
    `{"action":"pub","channel":"victim","data":${nested(100_000, '{"a":', "1", "}")}}`,
  ],
  ["a binary frame that is not UTF-8", Buffer.from([0xff, 0xfe, 0x7b])],
  ["a binary frame of invalid JSON", Buffer.from("{nope")],
];

describe("bad frames: an error text frame, then close; subscribers get nothing", () => {
  it.each(BAD_FRAMES)("%s", async (_label, frame) => {
    const victim = await listener("victim");
    const bad = await connect();
    bad.ws.send(frame);
    await bad.closed;
    expect(bad.frames).toHaveLength(1);
    expect(() => JSON.parse(bad.frames[0]!)).toThrow();
    expect(bad.frames[0]).not.toMatch(new RegExp(TEST_API_KEY));
    // a message published after the bad one still arrives, and nothing before it did
    const check = await connect();
    check.ws.send(JSON.stringify({ action: "pub", channel: "victim", data: { after: true } }));
    await until(() => victim.frames.some((f) => f.includes('"after"')));
    expect(victim.frames.filter((f) => !f.includes('"ready"') && !f.includes('"after"'))).toEqual([]);
  });

  it("a frame larger than the limit is closed with 1009 (message too big)", async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ action: "pub", channel: "victim", data: "x".repeat(MAX_FRAME_BYTES + 1) }));
    expect(await c.closed).toBe(1009);
    await alive();
  });

  it("more subscriptions than the limit: error, close, and every subscription of the socket is dropped", async () => {
    const c = await connect();
    for (let i = 0; i <= MAX_SUBSCRIPTIONS; i++)
      c.ws.send(JSON.stringify({ action: "sub", channel: `s${i}` }));
    await c.closed;
    expect(c.frames.at(-1)).toMatch(/subscriptions/);
    expect(h.srv.handler.hubs.public.subscriberCount("s0")).toBe(0);
  });
});

describe("frames v1 accepts", () => {
  it("a binary frame holding a JSON command is read like a text one (as v1 reads it)", async () => {
    const c = await connect();
    c.ws.send(Buffer.from(JSON.stringify({ action: "sub", channel: "bin" })));
    c.ws.send(Buffer.from(JSON.stringify({ action: "pub", channel: "bin", data: { b: 1 } })));
    await until(() => c.frames.some((f) => f.includes('"bin"')));
    expect(JSON.parse(c.frames[0]!)).toEqual({ channel: "bin", data: { b: 1 } });
  });
});

describe("upgrades", () => {
  it.each([
    ["no key", "/pubsub", 401, "NotAuthenticated"],
    ["a wrong key", "/pubsub?api_key=wrong", 401, "AccessKeyNotAccepted"],
    ["an unknown path", `/pubsub/x?api_key=${TEST_API_KEY}`, 404, "UndefinedOperation"],
    ["a key of 8 KB", `/_/pubsub?api_key=${"k".repeat(8192)}`, 401, "AccessKeyNotAccepted"],
  ])("refuses %s before the upgrade with a Skygear error", async (_label, path, status, name) => {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(url(path));
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on("open", () => reject(new Error("upgraded")));
      ws.on("error", () => {});
    });
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body).error.name).toBe(name);
  });
});

describe("floods", () => {
  it("20,000 unknown actions from a client that never reads: the server stays responsive", async () => {
    const c = await connect();
    // stop reading: pause the socket so replies pile up on the server's side
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const frame = JSON.stringify({ action: "dance", channel: "x".repeat(512) });
    for (let i = 0; i < 20_000; i++) c.ws.send(frame);
    await alive();
  });

  it("10,000 publishes to a busy channel reach a reading subscriber in order", async () => {
    const sub = await listener("busy");
    const pub = await connect();
    for (let i = 0; i < 10_000; i++)
      pub.ws.send(JSON.stringify({ action: "pub", channel: "busy", data: { i } }));
    await until(() => sub.frames.some((f) => f.includes('"i":9999')), 20_000);
    const seen = sub.frames.filter((f) => f.includes('"i"')).map((f) => JSON.parse(f).data.i);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    await alive();
  });

  it("300 connections opened and dropped at once leave no subscription behind", async () => {
    const conns = await Promise.all(Array.from({ length: 300 }, () => connect()));
    for (const c of conns) c.ws.send(JSON.stringify({ action: "sub", channel: "crowd" }));
    await until(() => h.srv.handler.hubs.public.subscriberCount("crowd") === 300);
    for (const c of conns) c.ws.terminate();
    await until(() => h.srv.handler.hubs.public.subscriberCount("crowd") === 0);
    await alive();
  });
});

describe("afterwards", () => {
  it("logged no unexpected failure and no secret", async () => {
    expect(h.lines.filter((l) => l.includes("request failed unexpectedly"))).toEqual([]);
    expectNoSecrets(h);
    const r = await post(h.srv.url, "/_status/healthz", {}, masterKey());
    expect(r.status).toBe(200);
  });
});
