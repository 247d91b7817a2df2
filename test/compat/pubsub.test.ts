// Pubsub frames against both servers: the upgrade refused on a bad key, sub/pub/unsub, several subscribers,
// typed and plain data, and frames v1 ignores or refuses; what each socket receives (frames, close code)
// must be the same from `skyflow serve` and from the real Skygear v1.7.3 server.
import { isDeepStrictEqual } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { TEST_API_KEY, TEST_MASTER_KEY } from "../helpers/server.js";
import { type Pair, startPair } from "./harness.js";

const started = await startPair("pubsub");
const pair: Pair | undefined = started.ok ? started.pair : undefined;

interface Sock {
  ws: WebSocket;
  frames: unknown[];
  closed?: number;
}

function wsUrl(base: string, key: string): string {
  return `${base.replace(/^http/, "ws")}pubsub?api_key=${encodeURIComponent(key)}`;
}

async function connect(base: string, key: string): Promise<Sock | { status: number }> {
  const ws = new WebSocket(wsUrl(base, key));
  return new Promise((ok, fail) => {
    const s: Sock = { ws, frames: [] };
    ws.on("message", (m) => {
      const t = String(m);
      try {
        s.frames.push(JSON.parse(t));
      } catch {
        s.frames.push(t);
      }
    });
    ws.on("close", (code) => {
      s.closed = code;
    });
    ws.once("open", () => ok(s));
    ws.once("unexpected-response", (_req, res) => {
      ok({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once("error", fail);
  });
}

const settle = () => new Promise((r) => setTimeout(r, 400));

/** One scenario on one server; returns what every socket saw, step by step. */
async function scenario(base: string): Promise<unknown[]> {
  const seen: unknown[] = [];
  const bad = await connect(base, "wrong-key");
  seen.push(["bad key", "status" in bad ? bad.status : "opened"]);
  const a = (await connect(base, TEST_API_KEY)) as Sock;
  const b = (await connect(base, TEST_API_KEY)) as Sock;
  const m = (await connect(base, TEST_MASTER_KEY)) as Sock;
  const snap = async (label: string) => {
    await settle();
    seen.push([label, a.frames.splice(0), b.frames.splice(0), m.frames.splice(0), a.closed, b.closed]);
  };
  a.ws.send(JSON.stringify({ action: "sub", channel: "room" }));
  m.ws.send(JSON.stringify({ action: "sub", channel: "room" }));
  await snap("subscribed");
  b.ws.send(
    JSON.stringify({ action: "pub", channel: "room", data: { text: "hi", n: 1.5, list: [1, null] } }),
  );
  await snap("pub");
  b.ws.send(
    JSON.stringify({
      action: "pub",
      channel: "room",
      data: { at: { $type: "date", $date: "2020-01-01T00:00:00Z" } },
    }),
  );
  await snap("typed data");
  b.ws.send(JSON.stringify({ action: "pub", channel: "nobody", data: {} }));
  await snap("pub without subscribers");
  a.ws.send(JSON.stringify({ action: "unsub", channel: "room" }));
  await settle();
  b.ws.send(JSON.stringify({ action: "pub", channel: "room", data: "after unsub" }));
  await snap("after unsub");
  a.ws.send(JSON.stringify({ action: "sub", channel: "room" }));
  a.ws.send(JSON.stringify({ action: "sub", channel: "room" }));
  await settle();
  b.ws.send(JSON.stringify({ action: "pub", channel: "room", data: 7 }));
  await snap("subscribed twice");
  a.ws.send(JSON.stringify({ action: "bogus", channel: "room" }));
  await snap("unknown action");
  for (const s of [a, b, m]) s.ws.close();
  return seen;
}

describe.skipIf(!pair)("pubsub frames: skyflow serve against the real Skygear v1.7.3", () => {
  afterAll(async () => {
    await pair?.stop();
  });

  it("every socket receives the same frames from both servers", async () => {
    const real = await scenario(pair!.real.url);
    const sky = await scenario(pair!.sky.url);
    expect(real.length).toBe(8);
    // The real server delivered to both subscribers, refused the bad key before the upgrade.
    expect(real[0]).toEqual(["bad key", 401]);
    expect(real[2]).toEqual([
      "pub",
      [{ channel: "room", data: { text: "hi", n: 1.5, list: [1, null] } }],
      [],
      [{ channel: "room", data: { text: "hi", n: 1.5, list: [1, null] } }],
      undefined,
      undefined,
    ]);
    if (!isDeepStrictEqual(real, sky)) {
      expect.fail(`pubsub differs\nreal:    ${JSON.stringify(real)}\nskyflow: ${JSON.stringify(sky)}`);
    }
  }, 60_000);
});

if (!started.ok) {
  describe("pubsub frames", () => {
    it.skip(`skipped: the real Skygear server cannot start: ${started.reason}`, () => {});
  });
}
