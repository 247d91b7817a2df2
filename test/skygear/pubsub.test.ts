// The pubsub client against a real ws hub on 127.0.0.1 (a small one speaking protocol §8): key header,
// echo, unsubscribe, a hub restart (reconnect, resubscribe, flush of queued publishes), the bounded queue.
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";
import { SkygearError } from "../../src/skygear/errors.js";
import { createPubsubClient, hubUrl, type PubsubClient } from "../../src/skygear/pubsub.js";

const KEY = "pubsub-test-key";

/** A v1-like hub: key header checked before the upgrade, sub/unsub/pub frames, echo to every subscriber. */
class TestHub {
  readonly frames: Record<string, unknown>[] = [];
  private readonly subs = new Map<WebSocket, Set<string>>();
  constructor(readonly wss: WebSocketServer) {
    wss.on("connection", (ws) => {
      this.subs.set(ws, new Set());
      ws.on("message", (raw) => this.onFrame(ws, JSON.parse(raw.toString())));
      ws.on("close", () => this.subs.delete(ws));
    });
  }

  static async start(port = 0): Promise<TestHub> {
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port,
      path: "/pubsub",
      verifyClient: (info: { req: IncomingMessage }) => info.req.headers["x-skygear-api-key"] === KEY,
    });
    await once(wss, "listening");
    return new TestHub(wss);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  publish(channel: string, data: unknown): void {
    for (const [ws, channels] of this.subs)
      if (channels.has(channel)) ws.send(JSON.stringify({ channel, data }));
  }

  subscribers(channel: string): number {
    return [...this.subs.values()].filter((s) => s.has(channel)).length;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise((r) => this.wss.close(r));
  }

  private onFrame(ws: WebSocket, f: { action: string; channel: string; data?: unknown }): void {
    this.frames.push(f);
    if (f.action === "sub") this.subs.get(ws)?.add(f.channel);
    if (f.action === "unsub") this.subs.get(ws)?.delete(f.channel);
    if (f.action === "pub") this.publish(f.channel, f.data);
  }
}

/** Resolves when `check` holds, polling; fails the test after 5 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in 5 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(port: number, extra: { queueSize?: number } = {}): PubsubClient {
  const c = createPubsubClient({
    endpoint: `http://127.0.0.1:${port}/`,
    apiKey: KEY,
    backoff: { initialMs: 20, maxMs: 200 },
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

async function hub(port?: number): Promise<TestHub> {
  const h = await TestHub.start(port);
  cleanups.push(() => h.stop());
  return h;
}

describe("the pubsub client", () => {
  it("connects with the key header and receives the echo of its own publish", async () => {
    const h = await hub();
    const c = client(h.port);
    const got: unknown[] = [];
    c.subscribe("news", (d) => got.push(d));
    await once(c, "connected");
    expect(c.isConnected()).toBe(true);
    await c.publish("news", { n: 1 });
    await until(() => got.length === 1);
    expect(got).toEqual([{ n: 1 }]);
    expect(h.frames).toContainEqual({ action: "sub", channel: "news" });
  });

  it("writes the publishes of one tick together, each resolving, in order", async () => {
    const h = await hub();
    const c = client(h.port);
    await once(c, "connected");
    // The client's socket, as ws keeps it: held (corked) from the first publish to the end of the tick.
    const socket = (c as unknown as { ws: { _socket: { writableCorked: number } } }).ws._socket;
    const sent = Array.from({ length: 20 }, (_, i) => c.publish("batch", { i }));
    expect(socket.writableCorked).toBe(1);
    await Promise.all(sent);
    expect(socket.writableCorked).toBe(0);
    await until(() => h.frames.length === 20);
    expect(h.frames.map((f) => (f.data as { i: number }).i)).toEqual([...Array(20).keys()]);
  });

  it("stops delivering after unsubscribe and tells the hub", async () => {
    const h = await hub();
    const c = client(h.port);
    const got: unknown[] = [];
    const off = c.subscribe("a", (d) => got.push(d));
    await once(c, "connected");
    await until(() => h.subscribers("a") === 1);
    off();
    await until(() => h.subscribers("a") === 0);
    h.publish("a", 1);
    await c.publish("a", 2);
    expect(got).toEqual([]);
  });

  it("reconnects after a hub restart, resubscribes, and flushes publishes queued meanwhile", async () => {
    const first = await TestHub.start();
    const port = first.port;
    const c = client(port);
    const got: unknown[] = [];
    // Subscribed once connected, so only the resubscription after the restart can bring it back.
    await once(c, "connected");
    c.subscribe("orders", (d) => got.push(d));
    await until(() => first.subscribers("orders") === 1);
    const down = once(c, "disconnected");
    await first.stop();
    await down;
    expect(c.isConnected()).toBe(false);
    const queued = c.publish("orders", { queued: true });
    const second = await hub(port);
    await queued;
    expect(c.isConnected()).toBe(true);
    // Resolved means written by the client; the hub reads it a moment later.
    await until(() => second.frames.length === 2);
    expect(second.frames).toEqual([
      { action: "sub", channel: "orders" },
      { action: "pub", channel: "orders", data: { queued: true } },
    ]);
    second.publish("orders", { from: "hub" });
    await until(() => got.length === 2);
    expect(got).toEqual([{ queued: true }, { from: "hub" }]);
  });

  it("rejects a publish beyond the queue bound while disconnected, and the queued ones on close", async () => {
    const h = await TestHub.start();
    const port = h.port;
    await h.stop();
    const c = createPubsubClient({ endpoint: `http://127.0.0.1:${port}/`, apiKey: KEY, queueSize: 2 });
    const first = c.publish("c", 1).catch((e: unknown) => e);
    const second = c.publish("c", 2).catch((e: unknown) => e);
    const over = (await c.publish("c", 3).catch((e: unknown) => e)) as SkygearError;
    expect(over).toBeInstanceOf(SkygearError);
    expect([over.errorName, over.retryable]).toEqual(["PubsubQueueFull", true]);
    expect(over.message).toContain("queue of 2 publishes is full");
    await c.close();
    expect(((await first) as SkygearError).errorName).toBe("PubsubClosed");
    expect(((await second) as SkygearError).errorName).toBe("PubsubClosed");
  });

  it("refuses null data instead of sending a frame that makes a v1 hub close the socket", async () => {
    const h = await hub();
    const c = client(h.port);
    await once(c, "connected");
    const e = (await c.publish("c", null).catch((x: unknown) => x)) as SkygearError;
    expect([e.errorName, e.retryable]).toEqual(["InvalidArgument", false]);
    expect(h.frames.filter((f) => f.action === "pub")).toEqual([]);
  });
});

describe("pubsub helpers (pure)", () => {
  it("keeps the endpoint's path and scheme for the hub URL", () => {
    expect(hubUrl("https://h.example/app/", "public")).toBe("wss://h.example/app/pubsub");
    expect(hubUrl("http://127.0.0.1:3000", "internal")).toBe("ws://127.0.0.1:3000/_/pubsub");
  });
});
