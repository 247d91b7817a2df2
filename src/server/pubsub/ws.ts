// The websocket endpoints /pubsub and /_/pubsub on an http.Server (protocol §8): the API key is checked
// before the upgrade (header, else ?api_key=), then frames are read and applied to the hub of that path.
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { SkygearServerError } from "../errors.js";
import { accessTypeOf } from "../preprocess.js";
import type { AppContext } from "../types.js";
import { parseFrame } from "./frames.js";
import type { Hub, HubName } from "./hub.js";

export const PUBSUB_PATHS: Record<string, HubName> = { "/pubsub": "public", "/_/pubsub": "internal" };

export interface PubsubEndpoint {
  close(): void;
}

export function attachPubsub(
  server: Server,
  app: AppContext,
  hubs: Record<HubName, Hub>,
  extraHeaders: () => Record<string, string>,
): PubsubEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const hubName = PUBSUB_PATHS[url.pathname];
    if (!hubName) return refuse(socket, 404, undefined, extraHeaders());
    const header = req.headers["x-skygear-api-key"];
    const key = (typeof header === "string" && header) || url.searchParams.get("api_key") || "";
    try {
      if (accessTypeOf(key, app) === "none") {
        throw new SkygearServerError("NotAuthenticated", "Api key is empty");
      }
    } catch (err) {
      const e = err as SkygearServerError;
      return refuse(socket, e.status, { error: e.toJSON() }, extraHeaders());
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, hubs[hubName]));
  };
  server.on("upgrade", onUpgrade);
  return {
    close() {
      server.off("upgrade", onUpgrade);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

function serveSocket(ws: WebSocket, hub: Hub): void {
  hub.add(ws);
  ws.on("message", (raw, isBinary) => {
    if (isBinary) return;
    const cmd = parseFrame(raw.toString());
    switch (cmd.kind) {
      case "sub":
        return hub.subscribe(ws, cmd.channel);
      case "unsub":
        return hub.unsubscribe(ws, cmd.channel);
      case "pub":
        hub.publish(cmd.channel, cmd.data);
        return;
      case "unknown":
        return ws.send("Unknow action");
      case "fatal":
        ws.send(cmd.message);
        return ws.close(1003, cmd.message);
    }
  });
  ws.on("close", () => hub.remove(ws));
  ws.on("error", () => hub.remove(ws));
}

function refuse(socket: Duplex, status: number, body: unknown, headers: Record<string, string>): void {
  const text = body === undefined ? "" : `${JSON.stringify(body)}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : status === 401 ? "Unauthorized" : "Error"}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(text)}`,
    "Connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  // A client that resets the connection meanwhile (a refused one often does) is no error of the server's:
  // unlistened, its ECONNRESET would be an uncaught 'error' event and end the process.
  socket.on("error", () => {});
  socket.end(`${lines.join("\r\n")}\r\n\r\n${text}`);
}
