// Property-based fuzzing of request decoding (issue 20, point 5): the body guard on any JSON value, the whole
// pipeline (router, preprocessors, every action) on arbitrary bodies, and raw bytes over HTTP. No crash, no
// hang, no 500: every answer is a v1 envelope, every refusal a Skygear error with a 4xx (or v1's 501
// NotSupported). Fixed seed; FUZZ_RUNS=n for longer runs (README, Development).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorName, SkygearServerError } from "../../src/server/errors.js";
import { guardBody } from "../../src/server/request-guard.js";
import { fuzzParams, fuzzTimeout } from "../helpers/fuzz.js";
import { TEST_API_KEY, TEST_MASTER_KEY } from "../helpers/server.js";
import { expectNoSecrets, type Hostile, startHostile } from "./hostile-kit.js";

let h: Hostile;
beforeAll(async () => {
  h = await startHostile("fuzz_request");
});
afterAll(async () => {
  await h?.close();
});

const ACTIONS = [
  "",
  "_status:healthz",
  "auth:signup",
  "auth:login",
  "auth:logout",
  "me",
  "device:register",
  "device:unregister",
  "push:user",
  "push:device",
  "record:query",
  "record:fetch",
  "record:save",
  "record:delete",
  "nope:nope",
];

/** Strings with the characters that broke things: NUL, lone surrogates, quotes, long runs. */
const nasty = fc.oneof(
  { arbitrary: fc.string(), weight: 12 },
  { arbitrary: fc.string({ unit: "binary" }), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      "\u0000",
      "\ud800",
      "\udfff",
      "'; DROP TABLE x; --",
      '"',
      "t",
      "_auth",
      "note/x",
      "a".repeat(3000),
    ),
    weight: 1,
  },
);
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    nasty,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(nasty, tie("v"), { maxKeys: 4 }),
    fc.record({
      $type: fc.constantFrom("date", "ref", "keypath", "geo", "x"),
      $date: nasty,
      $id: nasty,
      $val: nasty,
    }),
  ),
})).v;

/** Bodies shaped like real requests: the parameters each action reads, with any values. */
const params = fc.record(
  {
    records: fc.oneof(
      fc.array(fc.dictionary(fc.constantFrom("_id", "_access", "title", "n", "t", "\u0000"), value)),
      value,
    ),
    ids: fc.oneof(fc.array(fc.oneof(nasty, fc.constantFrom("note/a", "user/x"))), value),
    record_type: fc.oneof(fc.constantFrom("note", "user", "_auth"), nasty),
    predicate: value,
    sort: value,
    include: value,
    limit: value,
    database_id: fc.oneof(fc.constantFrom("_public", "_private", "_union"), nasty),
    auth_data: fc.oneof(fc.record({ username: nasty }, { requiredKeys: [] }), value),
    password: value,
    profile: value,
    type: fc.oneof(fc.constantFrom("ios", "android"), nasty),
    id: value,
    user_ids: value,
    device_ids: value,
    notification: value,
    atomic: value,
    access_token: value,
    api_key: value,
    _user_id: value,
  },
  { requiredKeys: [] },
);

const kp = (v: string) => ({ $type: "keypath", $val: v });
/** Valid requests, each sent with the master key: a mutation of one of them gets far into its action. */
const TEMPLATES: [string, Record<string, unknown>][] = [
  [
    "record:save",
    {
      records: [
        {
          _id: "note/f1",
          title: "x",
          n: 1,
          at: { $type: "date", $date: "2020-01-01T00:00:00Z" },
          meta: { a: [1, "b"] },
          _access: [{ level: "read", public: true }],
        },
      ],
      atomic: false,
    },
  ],
  [
    "record:query",
    {
      record_type: "note",
      predicate: ["and", ["eq", kp("title"), "x"], ["in", kp("n"), [1, 2]], ["like", kp("title"), "x%"]],
      sort: [[kp("n"), "asc"]],
      limit: 5,
      offset: 0,
      count: true,
      desired_keys: ["title"],
    },
  ],
  ["record:fetch", { ids: ["note/f1", "note/nope"], database_id: "_public" }],
  ["record:delete", { ids: ["note/zz"] }],
  ["auth:signup", { auth_data: { username: "fz" }, password: "p", profile: { x: 1 } }],
  ["auth:login", { auth_data: { username: "alice" }, password: "p" }],
  ["device:register", { type: "ios", device_token: "tok", topic: "t" }],
  ["push:user", { user_ids: ["u1"], notification: { apns: { aps: { alert: "x" } } } }],
  ["push:device", { device_ids: ["d1"], notification: { fcm: { notification: { title: "x" } } } }],
];

/** Every path of a JSON value: object keys and array indexes, down to the leaves. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== "object" || v === null) return [at];
  const kids = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
  return [at, ...kids.flatMap(([k, x]) => paths(x, [...at, k]))];
}

/** `v` with the value at `path` replaced, or its last key renamed when `renameTo` is given. */
function mutate(v: unknown, path: (string | number)[], replacement: unknown, renameTo?: string): unknown {
  if (path.length === 0) return replacement;
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (renameTo !== undefined && typeof last === "string" && !Array.isArray(node)) {
    node[renameTo] = node[last];
    delete node[last];
  } else node[last] = replacement;
  return copy;
}

function expectEnvelope(out: { status: number; body: unknown }): void {
  if (out.status === 200) {
    expect(out.body).toHaveProperty("result");
    return;
  }
  expect(out.status === 501 || (out.status >= 400 && out.status < 500), JSON.stringify(out.body)).toBe(true);
  const err = (out.body as { error?: { name: string; code: number } }).error;
  expect(err, JSON.stringify(out.body)).toBeDefined();
  expect(err!.code).toBe(ERROR_CODES[err!.name as ErrorName]);
}

describe("the body guard", () => {
  it("accepts or refuses any JSON value with a Skygear error, however deep", () => {
    fc.assert(
      fc.property(fc.oneof(value, fc.jsonValue()), fc.integer({ min: 1, max: 80 }), (v, depth) => {
        try {
          guardBody(v, depth);
        } catch (err) {
          expect(err).toBeInstanceOf(SkygearServerError);
          expect((err as SkygearServerError).status).toBe(400);
        }
      }),
      fuzzParams(2000),
    );
  });
});

describe("the request pipeline", () => {
  const who = fc.constantFrom(
    {},
    { "x-skygear-api-key": TEST_API_KEY },
    { "x-skygear-api-key": TEST_MASTER_KEY },
    { "x-skygear-api-key": "wrong" },
  );

  const statuses = new Map<number, number>();
  it(
    "answers every action's arbitrary body with a v1 envelope, never a 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ACTIONS), params, who, async (action, body, headers) => {
          const out = await h.srv.handler.handle({ pathAction: action, body, headers });
          expectEnvelope(out);
          statuses.set(out.status, (statuses.get(out.status) ?? 0) + 1);
        }),
        fuzzParams(300),
      );
      console.log(`pipeline fuzz statuses: ${JSON.stringify([...statuses].sort())}`);
      expectNoSecrets(h);
      expect(h.lines.filter((l) => l.includes("request failed unexpectedly"))).toEqual([]);
    },
    fuzzTimeout(300, 300),
  );

  it(
    "answers a valid request with one part replaced by anything with a v1 envelope, never a 500",
    async () => {
      const master = { "x-skygear-api-key": TEST_MASTER_KEY };
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...TEMPLATES),
          fc.nat(),
          value,
          fc.option(nasty, { freq: 4 }),
          async ([action, template], pick, replacement, renameTo) => {
            const all = paths(template);
            const body = mutate(template, all[pick % all.length]!, replacement, renameTo ?? undefined);
            expectEnvelope(await h.srv.handler.handle({ pathAction: action, body, headers: master }));
          },
        ),
        fuzzParams(400),
      );
      expect(h.lines.filter((l) => l.includes("request failed unexpectedly"))).toEqual([]);
    },
    fuzzTimeout(400, 300),
  );

  it(
    "answers raw bytes over HTTP with a 4xx or a 200, never a 500",
    async () => {
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.string().map((s) => Buffer.from(s)),
        fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? "")),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ACTIONS), bytes, async (action, body) => {
          const res = await fetch(new URL(action.replaceAll(":", "/"), h.srv.url), {
            method: "POST",
            headers: { "Content-Type": "application/json", "X-Skygear-API-Key": TEST_API_KEY },
            body,
          });
          const text = await res.text();
          expectEnvelope({ status: res.status, body: JSON.parse(text) });
        }),
        fuzzParams(300),
      );
    },
    fuzzTimeout(300, 100),
  );
});
