// The HTTP transport (protocol §1): node:http with JSON bodies, v1 response headers and CORS, the pubsub
// websocket hubs on the same port, and GET /_skyflow/pushes (master key) listing the push outbox.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { actionFromPath, badBody, fail } from "./envelope.js";
import { SkygearServerError } from "./errors.js";
import type { SkygearServerHandler } from "./index.js";
import { limitsOf } from "./limits.js";
import { accessTypeOf } from "./preprocess.js";
import { attachPubsub } from "./pubsub/ws.js";
import { listPushes } from "./push/outbox.js";
import { toSkygearError } from "./records/pg-errors.js";
import { reportUnexpected } from "./report.js";

export interface StartServerOptions {
  handler: SkygearServerHandler;
  host?: string;
  port: number;
  /** Largest accepted body (default: the handler's SKYFLOW_MAX_BODY_BYTES); v1 has no limit. */
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
  const maxBody = opts.maxBodyBytes ?? limitsOf(handler.app.config).bodyBytes;
  const server = createServer((req, res) => {
    serve(handler, req, res, maxBody).catch((err) => {
      const e = toSkygearError(err);
      reportUnexpected(handler.app.log, e, { path: req.url?.split("?")[0] });
      if (!res.headersSent) send(res, fail(e));
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
  const declared = Number(req.headers["content-length"]);
  const raw = declared > maxBody ? undefined : await readBody(req, maxBody);
  if (raw === undefined) return refuseTooLarge(req, res, maxBody);
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    return send(res, badBody("the request body is not valid UTF-8"));
  }
  let body: unknown;
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      // The parser's message quotes the body, which may hold a password: it is not passed on.
      return send(res, badBody("the request body is not valid JSON"));
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

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The body's bytes, or undefined as soon as they pass `max` (the rest is not waited for). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= max) return void chunks.push(c);
      req.off("data", onData);
      resolve(undefined);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * 413 with BadRequest (107) at once, then the connection closes. The rest of the body is read and dropped
 * (so the client can read the answer) until as much again has come, then the socket is cut.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, max: number): void {
  let drained = 0;
  req.on("data", (c: Buffer) => {
    drained += c.length;
    if (drained > max) req.socket.destroy();
  });
  req.resume();
  res.setHeader("Connection", "close");
  const err = new SkygearServerError(
    "BadRequest",
    `the request body is larger than ${max} bytes (SKYFLOW_MAX_BODY_BYTES)`,
    { status: 413 },
  );
  send(res, fail(err));
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
