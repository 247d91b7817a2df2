// The websocket endpoints /pubsub and /_/pubsub on an http.Server (protocol §8): the API key is checked
// before the upgrade (header, else ?api_key=), then frames are read and applied to the hub of that path.
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { RawData } from "ws";
import { type WebSocket, WebSocketServer } from "../../ws.js";
import { SkygearServerError } from "../errors.js";
import { bodyDepthLimit, limitsOf } from "../limits.js";
import { accessTypeOf } from "../preprocess.js";
import { unexpectedError } from "../records/pg-errors.js";
import { reportUnexpected } from "../report.js";
import type { AppContext } from "../types.js";
import { parseFrame } from "./frames.js";
import { type Hub, type HubName, STUCK_BUFFER_BYTES } from "./hub.js";

export const PUBSUB_PATHS: Record<string, HubName> = { "/pubsub": "public", "/_/pubsub": "internal" };

/** Largest frame a client may send (v1: none). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Channels one socket may be subscribed to at once (v1: none; each costs memory until the socket closes). */
export const MAX_SUBSCRIPTIONS = 1000;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

export interface PubsubEndpoint {
  close(): void;
}

export function attachPubsub(
  server: Server,
  app: AppContext,
  hubs: Record<HubName, Hub>,
  extraHeaders: () => Record<string, string>,
): PubsubEndpoint {
  // A larger frame is refused by ws itself: close code 1009 (message too big).
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const hubName = PUBSUB_PATHS[url.pathname];
    if (!hubName) {
      const unmatched = new SkygearServerError("UndefinedOperation", "route unmatched");
      return refuse(socket, 404, { error: unmatched.toJSON() }, extraHeaders());
    }
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
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, hubs[hubName], app));
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

function serveSocket(ws: WebSocket, hub: Hub, app: AppContext): void {
  hub.add(ws);
  const maxDepth = bodyDepthLimit(limitsOf(app.config));
  const onFrame = (raw: RawData) => {
    // Frames that arrive after a refusal, while the close completes, are not applied.
    if (ws.readyState !== ws.OPEN) return;
    // v1 reads binary frames as it reads text ones.
    let text: string;
    try {
      text = UTF8.decode(frameBytes(raw));
    } catch {
      return refuseFrame(ws, hub, "Error: the frame is not valid UTF-8. Closing Connection");
    }
    const cmd = parseFrame(text, maxDepth);
    switch (cmd.kind) {
      case "sub":
        if (!hub.isSubscribed(ws, cmd.channel) && hub.subscriptionCount(ws) >= MAX_SUBSCRIPTIONS) {
          return refuseFrame(
            ws,
            hub,
            `Error: more than ${MAX_SUBSCRIPTIONS} subscriptions. Closing Connection`,
          );
        }
        return hub.subscribe(ws, cmd.channel);
      case "unsub":
        return hub.unsubscribe(ws, cmd.channel);
      case "pub":
        hub.publish(cmd.channel, cmd.data);
        return;
      case "unknown":
        // A client that floods unknown actions and never reads would grow our send buffer without end.
        if (ws.bufferedAmount > STUCK_BUFFER_BYTES) return ws.terminate();
        return ws.send("Unknow action");
      case "fatal":
        return refuseFrame(ws, hub, cmd.message);
    }
  };
  ws.on("message", (raw) => {
    try {
      onFrame(raw);
    } catch (err) {
      // A throw here would reach ws's parser and end the process: this socket ends instead.
      reportUnexpected(app.log, unexpectedError(err), { path: "pubsub" });
      ws.terminate();
      hub.remove(ws);
    }
  });
  ws.on("close", () => hub.remove(ws));
  ws.on("error", () => hub.remove(ws));
}

function frameBytes(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  return Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
}

/** The error text, then close; the socket's subscriptions end now, not when the close completes. */
function refuseFrame(ws: WebSocket, hub: Hub, message: string): void {
  hub.remove(ws);
  ws.send(message);
  ws.close(1003, "frame refused");
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
