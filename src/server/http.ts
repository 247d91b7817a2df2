// The HTTP transport (protocol §1): node:http with JSON bodies, v1 response headers and CORS, the pubsub
// websocket hubs on the same port, and GET /_skyflow/pushes (master key) listing the push outbox.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { actionFromPath, fail } from "./envelope.js";
import { SkygearServerError } from "./errors.js";
import type { SkygearServerHandler } from "./index.js";
import { accessTypeOf } from "./preprocess.js";
import { attachPubsub } from "./pubsub/ws.js";
import { listPushes } from "./push/outbox.js";

export interface StartServerOptions {
  handler: SkygearServerHandler;
  host?: string;
  port: number;
  /** Largest accepted body; v1 has no limit, a dev server wants one. */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const SERVER_HEADER = "Skygear Server/1.7.3";

export async function startSkygearServer(opts: StartServerOptions): Promise<RunningServer> {
  const { handler } = opts;
  const maxBody = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const server = createServer((req, res) => {
    serve(handler, req, res, maxBody).catch((err) => {
      handler.app.log.error({ err: String(err) }, "http request failed");
      if (!res.headersSent)
        send(res, fail(new SkygearServerError("UnexpectedError", "An unexpected error occurred")));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const pubsub = attachPubsub(server, handler.app, handler.hubs, () => ({
    Server: SERVER_HEADER,
    "X-Skygear-Request-Id": randomUUID(),
  }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        pubsub.close();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

async function serve(
  handler: SkygearServerHandler,
  req: IncomingMessage,
  res: ServerResponse,
  maxBody: number,
): Promise<void> {
  setCommonHeaders(req, res);
  if (req.method === "OPTIONS") {
    res.writeHead(200, { "Content-Length": "0" });
    res.end();
    return;
  }
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/_skyflow/pushes") return servePushes(handler, req, res, url);
  const raw = await readBody(req, maxBody);
  if (raw === undefined) return send(res, { status: 413, body: undefined });
  let body: unknown;
  if (raw.trim() !== "") {
    try {
      body = JSON.parse(raw);
    } catch {
      // v1 quirk (S: router/common.go): a body that is not JSON gets 400 and an empty body.
      return send(res, { status: 400, body: undefined });
    }
  }
  const out = await handler.handle({
    pathAction: actionFromPath(url.pathname),
    body,
    headers: req.headers as Record<string, string | undefined>,
  });
  send(res, out);
}

function setCommonHeaders(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("Server", SERVER_HEADER);
  res.setHeader("X-Skygear-Request-Id", randomUUID());
  res.setHeader("Access-Control-Allow-Origin", "*");
  res.setHeader("Access-Control-Allow-Credentials", "true");
  const methods = req.headers["access-control-request-method"];
  if (methods) res.setHeader("Access-Control-Allow-Methods", methods);
  const headers = req.headers["access-control-request-headers"];
  if (headers) res.setHeader("Access-Control-Allow-Headers", headers);
}

function send(res: ServerResponse, out: { status: number; body: unknown }): void {
  const text = out.body === undefined ? "" : `${JSON.stringify(out.body)}\n`;
  res.writeHead(out.status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** The body as text, or undefined past the limit. */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function servePushes(
  handler: SkygearServerHandler,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const header = req.headers["x-skygear-api-key"];
  const key = (typeof header === "string" && header) || url.searchParams.get("api_key") || "";
  try {
    const type = accessTypeOf(key, handler.app);
    if (type === "none") throw new SkygearServerError("NotAuthenticated", "Api key is empty");
    if (type !== "master")
      throw new SkygearServerError("PermissionDenied", "requires master key", { status: 401 });
  } catch (err) {
    return send(res, fail(err as SkygearServerError));
  }
  const limit = Number(url.searchParams.get("limit") ?? "50");
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return send(
      res,
      fail(new SkygearServerError("InvalidArgument", "limit must be a whole number from 1 to 1000")),
    );
  }
  await handler.ready();
  const pushes = await listPushes(handler.app.pool, handler.app.config.schema, limit);
  send(res, { status: 200, body: { result: pushes } });
}
