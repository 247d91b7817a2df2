// A real HTTP and websocket proxy on loopback in front of a Skygear server, which injects faults:
// - HTTP: a share of the calls answered 503 (without reaching the server, or after it answered: Skygear's own
//   ResponseTimeout) or never answered (the request held, or forwarded and its answer swallowed);
// - websocket: every connection through it dropped on demand, without a close frame (its TCP connection ended
//   after the proxy stopped passing frames). It counts the pubsub messages (data.seq) it passed to the client.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { random } from "./harness.js";

export type HttpFault = "503" | "503-after" | "hang" | "hang-after";
const FAULTS: HttpFault[] = ["503", "503-after", "hang", "hang-after"];

export interface FaultyProxy {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** Share of HTTP calls that get a fault (0 to 1), from now on. */
  failRate: number;
  stats: { calls: number; faults: Record<HttpFault, number>; wsConnections: number; wsDrops: number };
  /** The seq of each pubsub message passed to a client, in order (a seq passed twice appears twice). */
  delivered: number[];
  /** Messages from the server not passed on because their connection was being dropped. */
  undelivered: number;
  /** Resolves once a client connected through the proxy has subscribed to `channel`. */
  subscribed(channel: string, timeoutMs?: number): Promise<void>;
  /** Drops every websocket connection through the proxy; resolves once they are closed. */
  dropWebsockets(): Promise<number>;
  close(): Promise<void>;
}

interface Pair {
  id: string;
  client: WebSocket;
  raw: Socket;
  upstream: WebSocket;
  channels: Set<string>;
  dropping: boolean;
}

const HOP = new Set([
  "host",
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "content-length",
  "transfer-encoding",
]);

export async function faultyProxy(target: string, seed?: number): Promise<FaultyProxy> {
  const up = new URL(target);
  const rnd = random(seed);
  const held = new Set<http.ServerResponse>();
  const pairs = new Map<string, Pair>();
  const proxy: FaultyProxy = {
    url: "",
    failRate: 0,
    stats: {
      calls: 0,
      faults: { "503": 0, "503-after": 0, hang: 0, "hang-after": 0 },
      wsConnections: 0,
      wsDrops: 0,
    },
    delivered: [],
    undelivered: 0,
    async subscribed(channel, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      while (![...pairs.values()].some((p) => !p.dropping && p.channels.has(channel))) {
        if (Date.now() > end) throw new Error(`no client subscribed to ${channel} through the proxy`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async dropWebsockets() {
      const now = [...pairs.values()].filter((p) => !p.dropping);
      for (const p of now) p.dropping = true;
      // Frames already passed reach the client; from here on nothing passes either way.
      await new Promise((r) => setTimeout(r, 50));
      await Promise.all(
        now.map(
          (p) =>
            new Promise<void>((resolve) => {
              p.upstream.terminate();
              // No close frame: the TCP connection just ends, as when a network path goes away.
              p.raw.once("close", () => resolve());
              p.raw.end();
              setTimeout(() => p.raw.destroy(), 1_000).unref();
            }),
        ),
      );
      proxy.stats.wsDrops += now.length;
      return now.length;
    },
    async close() {
      for (const res of held) res.destroy();
      for (const p of pairs.values()) {
        p.upstream.terminate();
        p.raw.destroy();
      }
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const forward = (req: http.IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
      headers["content-length"] = body.length;
      const r = http.request(
        { host: up.hostname, port: up.port, method: req.method, path: req.url, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on("error", reject);
        },
      );
      r.on("error", reject);
      r.end(body);
    });

  const unavailable = (res: http.ServerResponse, name: string, code: number) => {
    const body = JSON.stringify({ error: { name, code, message: "injected by the fault proxy" } });
    res.writeHead(503, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    proxy.stats.calls++;
    const fault = rnd.next() < proxy.failRate ? FAULTS[rnd.between(0, FAULTS.length - 1)]! : undefined;
    if (fault) proxy.stats.faults[fault]++;
    try {
      if (fault === "503") return unavailable(res, "PluginUnavailable", 118);
      if (fault === "hang") return hold(res);
      const answer = await forward(req, body);
      if (fault === "503-after") return unavailable(res, "ResponseTimeout", 122);
      if (fault === "hang-after") return hold(res);
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(answer.headers)) if (!HOP.has(k)) headers[k] = v;
      headers["content-length"] = answer.body.length;
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  // Never answered: held until the client gives up (its timeout), or a minute passes.
  const hold = (res: http.ServerResponse) => {
    held.add(res);
    const t = setTimeout(() => res.destroy(), 60_000);
    t.unref();
    res.on("close", () => {
      clearTimeout(t);
      held.delete(res);
    });
  };

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, raw: Socket, head) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (!HOP.has(k) && typeof v === "string") headers[k] = v;
    const upstream = new WebSocket(`ws://${up.host}${req.url ?? "/"}`, { headers });
    const pending: string[] = [];
    upstream.on("error", () => raw.destroy());
    wss.handleUpgrade(req, raw, head, (client) => {
      const pair: Pair = { id: randomUUID(), client, raw, upstream, channels: new Set(), dropping: false };
      pairs.set(pair.id, pair);
      proxy.stats.wsConnections++;
      const end = () => {
        pairs.delete(pair.id);
        upstream.terminate();
        client.terminate();
      };
      client.on("close", end);
      client.on("error", end);
      upstream.on("close", () => {
        if (!pair.dropping) client.close();
      });
      client.on("message", (data, binary) => {
        if (pair.dropping) return;
        const text = data.toString();
        try {
          const frame = JSON.parse(text) as { action?: string; channel?: string };
          if (frame.action === "sub" && frame.channel) pair.channels.add(frame.channel);
        } catch {}
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary });
        else pending.push(text);
      });
      upstream.on("open", () => {
        for (const f of pending.splice(0)) upstream.send(f);
      });
      upstream.on("message", (data, binary) => {
        let seq: number | undefined;
        try {
          const frame = JSON.parse(data.toString()) as { data?: { seq?: unknown } };
          if (typeof frame.data?.seq === "number") seq = frame.data.seq;
        } catch {}
        if (pair.dropping) {
          if (seq !== undefined) proxy.undelivered++;
          return;
        }
        client.send(data, { binary });
        if (seq !== undefined) proxy.delivered.push(seq);
      });
    });
  });

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return proxy;
}
