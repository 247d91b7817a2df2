// Both transports under the container against the same canned answers: a real loopback node:http server for
// HTTP, a hand-written SkygearHandler in-process. Statuses, error classification, timeout, abort, key scrubbing.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SkygearHandler } from "../../src/server/types.js";
import { SkygearContainer } from "../../src/skygear/container.js";
import { createHttpTransport } from "../../src/skygear/transport-http.js";
import { createInProcessTransport } from "../../src/skygear/transport-inprocess.js";
import type { Transport } from "../../src/skygear/types.js";
import { scrubbedRejection } from "../helpers/rejection.js";

const KEY = "secret-master-key-123";
const TOKEN = "secret-token-456";

type Answer = { status: number; body: unknown } | "hang";
const errorBody = (name: string, code: number, message: string, info?: unknown) => ({
  error: { name, code, message, ...(info === undefined ? {} : { info }) },
});

/** The canned server: action -> answer, given the parsed request body. */
const ROUTES: Record<string, (body: Record<string, unknown>) => Answer> = {
  "t:echo": (body) => ({ status: 200, body: { result: body, info: { count: 7 } } }),
  "t:denied": (body) => ({
    status: 403,
    body: errorBody("PermissionDenied", 102, `no access for key ${body.api_key}`, { key: body.api_key }),
  }),
  "t:unavailable": () => ({ status: 503, body: errorBody("PluginUnavailable", 118, "plugins not ready") }),
  "t:bare400": () => ({ status: 400, body: undefined }),
  "record:delete": () => ({
    status: 200,
    body: {
      result: [
        { _id: "note/1", _type: "record" },
        { _id: "note/2", _type: "error", name: "PermissionDenied", code: 102, message: "no write" },
      ],
    },
  }),
  "t:hang": () => "hang",
};

function route(action: string, body: unknown): Answer {
  const fn = ROUTES[action];
  if (!fn) return { status: 404, body: errorBody("UndefinedOperation", 117, "route unmatched") };
  return fn(body as Record<string, unknown>);
}

let server: Server;
let url: string;
let connections = 0;
const handler: SkygearHandler = {
  async handle(req) {
    const answer = route(req.pathAction ?? "", req.body);
    return answer === "hang" ? new Promise(() => {}) : answer;
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const action = (req.url ?? "/").slice(1).replaceAll("/", ":");
      const answer = route(action, JSON.parse(Buffer.concat(chunks).toString()));
      if (answer === "hang") return;
      const text = answer.body === undefined ? "" : JSON.stringify(answer.body);
      res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const rejection = (p: Promise<unknown>) => scrubbedRejection(p, [KEY, TOKEN]);

describe.each([["http"], ["in-process"]])("the container over the %s transport", (kind) => {
  let transport: Transport;
  let c: SkygearContainer;
  beforeAll(() => {
    transport = kind === "http" ? createHttpTransport({ endpoint: url }) : createInProcessTransport(handler);
    c = new SkygearContainer({ transport, apiKey: KEY, timeoutMs: 5000 });
  });
  afterAll(() => transport.close?.());

  it("puts the key, the action and _user_id into the body and resolves with result", async () => {
    const result = (await c.asUser("user/u1").sendAction("t:echo", { x: 1 })) as Record<string, unknown>;
    expect(result).toEqual({ x: 1, action: "t:echo", api_key: KEY, _user_id: "u1" });
  });

  it("sends an access token when given one and exposes the answer's info", async () => {
    const answer = await c.withAccessToken(TOKEN).call("t:echo", {});
    expect(answer.result).toMatchObject({ access_token: TOKEN });
    expect(answer.result).not.toHaveProperty("_user_id");
    expect(answer.info).toEqual({ count: 7 });
  });

  it("drops the access token when impersonating, since a token would make the server ignore _user_id", async () => {
    const result = await c.withAccessToken(TOKEN).asUser("u2").sendAction("t:echo");
    expect(result).not.toHaveProperty("access_token");
    expect(result).toMatchObject({ _user_id: "u2", api_key: KEY });
  });

  it("classifies PermissionDenied as not retryable and scrubs the key from message and info", async () => {
    const e = await rejection(c.sendAction("t:denied"));
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual([
      "PermissionDenied",
      102,
      403,
      false,
    ]);
    expect(e.message).toContain("[redacted]");
    expect(e.code).toBe("SKYGEAR_ERROR");
  });

  it("classifies a 503 PluginUnavailable as retryable", async () => {
    const e = await rejection(c.sendAction("t:unavailable"));
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual([
      "PluginUnavailable",
      118,
      503,
      true,
    ]);
  });

  it("turns an unknown action and a bare 400 into named, non-retryable errors", async () => {
    const unknown = await rejection(c.sendAction("t:nothing"));
    expect([unknown.errorName, unknown.status, unknown.retryable]).toEqual([
      "UndefinedOperation",
      404,
      false,
    ]);
    const bare = await rejection(c.sendAction("t:bare400"));
    expect([bare.errorName, bare.skygearCode, bare.status]).toEqual(["BadRequest", 107, 400]);
  });

  it("surfaces a per-item error inside a 200 with the ids that succeeded", async () => {
    const items = await rejection(c.delete(["note/1", "note/2"]));
    expect([items.errorName, items.status, items.retryable]).toEqual(["PermissionDenied", 200, false]);
    expect(items.info).toMatchObject({ id: "note/2", succeeded: ["note/1"] });
  });

  it("fails an expired call with a retryable Timeout", async () => {
    const started = Date.now();
    const e = await rejection(c.sendAction("t:hang", {}, { timeoutMs: 100 }));
    expect([e.errorName, e.retryable]).toEqual(["Timeout", true]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("fails at once when aborted, before or during the call", async () => {
    const early = await rejection(c.sendAction("t:echo", {}, { signal: AbortSignal.abort() }));
    expect([early.errorName, early.retryable]).toEqual(["Aborted", false]);
    const ac = new AbortController();
    const pending = c.sendAction("t:hang", {}, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const late = await rejection(pending);
    expect(late.errorName).toBe("Aborted");
  });

  it("keeps working after timeouts and aborts", async () => {
    await expect(c.sendAction("t:echo", { again: true })).resolves.toMatchObject({ again: true });
  });
});

describe("the HTTP transport", () => {
  it("reuses its connections instead of opening one per call", async () => {
    const transport = createHttpTransport({ endpoint: url });
    const c = new SkygearContainer({ transport, apiKey: KEY });
    const before = connections;
    // undici frees a socket on the tick after an answer completes, so a caller that sends again at once
    // gets a second socket; after that the two take turns.
    for (let i = 0; i < 40; i++) await c.sendAction("t:echo", { i });
    expect(connections - before).toBeGreaterThanOrEqual(1);
    expect(connections - before).toBeLessThanOrEqual(2);
    await c.close();
  });

  it("classifies a refused connection as a retryable NetworkError", async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const c = new SkygearContainer({
      transport: createHttpTransport({ endpoint: `http://127.0.0.1:${port}/` }),
      apiKey: KEY,
    });
    const e = await rejection(c.sendAction("t:echo"));
    expect([e.errorName, e.retryable, e.info]).toEqual(["NetworkError", true, { code: "ECONNREFUSED" }]);
    await c.close();
  });

  it("keeps a path prefix of the endpoint", async () => {
    const c = new SkygearContainer({ transport: createHttpTransport({ endpoint: `${url}t` }), apiKey: KEY });
    await expect(c.sendAction("echo", { p: 1 })).resolves.toMatchObject({ p: 1, action: "echo" });
    await c.close();
  });
});

describe("the in-process transport", () => {
  it("answers a throwing handler with 500 UnexpectedError, retryable", async () => {
    const throwing: SkygearHandler = { handle: () => Promise.reject(new Error(`boom ${KEY}`)) };
    const c = new SkygearContainer({ transport: createInProcessTransport(throwing), apiKey: KEY });
    const e = await rejection(c.sendAction("t:echo"));
    expect([e.errorName, e.skygearCode, e.status, e.retryable]).toEqual([
      "UnexpectedError",
      10000,
      500,
      true,
    ]);
  });

  it("shares no objects with the handler: the caller's records are copied both ways", async () => {
    const stored = { _id: "note/1", tags: ["a"], when: new Date("2020-01-01T00:00:00Z") };
    const echo: SkygearHandler = {
      async handle(req) {
        (req.body as { records: { tags: string[] }[] }).records[0]!.tags.push("mutated");
        return { status: 200, body: { result: [stored] } };
      },
    };
    const c = new SkygearContainer({ transport: createInProcessTransport(echo), apiKey: KEY });
    const mine = { _id: "note/1", tags: ["a"] };
    const [saved] = await c.save([mine]);
    expect(mine.tags).toEqual(["a"]);
    expect(saved).toEqual({ _id: "note/1", tags: ["a"], when: "2020-01-01T00:00:00.000Z" });
    expect(saved).not.toBe(stored);
  });
});
