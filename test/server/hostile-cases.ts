// The hostile request cases (issue 20, points 3 and 4): malformed bodies, credentials and every parameter of
// every action the development server implements, each with how v1 answers its refusal (a 4xx, or per-item
// errors in a 200). Used against an in-process server (hostile-http) and `skyflow serve`/`start` (hostile-cli).
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { Target } from "./hostile-kit.js";
import { post, type RawResponse } from "./http-client.js";

const kp = (v: unknown) => ({ $type: "keypath", $val: v });
/** JSON text nesting `leaf` n times in `open`...`close` (too deep for JSON.stringify). */
const nested = (n: number, open: string, leaf: string, close: string) =>
  `${open.repeat(n)}${leaf}${close.repeat(n)}`;
const deep = (n: number, leaf: unknown, wrap: (x: unknown) => unknown) => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = wrap(v);
  return v;
};

export type Who = "master" | "client" | "alice" | "bob" | "mallory" | "none";
export interface Case {
  name: string;
  path: string;
  /** A JSON value (or a function of the users giving one), or raw text/bytes sent as is. */
  body: unknown;
  raw?: boolean;
  who?: Who;
  /** Per-item errors in a 200 (record save/delete), as v1 answers. */
  item?: boolean;
  /**
   * v1 extends the schema before it writes, so a save refused by the database (a reference to nothing)
   * may still have added its column: only rows must stay as they were.
   */
  ddl?: boolean;
}

function headers(t: Target, who: Who): Record<string, string> {
  if (who === "none") return {};
  if (who === "master") return { "X-Skygear-API-Key": t.masterKey };
  if (who === "client") return { "X-Skygear-API-Key": t.apiKey };
  return { "X-Skygear-API-Key": t.apiKey, "X-Skygear-Access-Token": t[who].token };
}

/** Sends one case to the server of `t` as its user. */
export async function sendCase(t: Target, c: Case): Promise<RawResponse> {
  const hdrs = headers(t, c.who ?? "mallory");
  if (c.raw) {
    const res = await fetch(new URL(c.path, t.url), {
      method: "POST",
      headers: { "Content-Type": "application/json", ...hdrs },
      body: c.body as string | Uint8Array,
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }
  return post(t.url, c.path, typeof c.body === "function" ? c.body(t) : c.body, hdrs);
}

/** The records the cases expect (mallory's note, a referenced target) and the master key's _auth row. */
export async function seedCases(t: Target): Promise<void> {
  const setup = await post(
    t.url,
    "/record/save",
    save([
      {
        _id: "note/seed",
        title: "seed",
        n: 1,
        at: { $type: "date", $date: "2020-01-01T00:00:00Z" },
        meta: { a: 1 },
      },
      { _id: "target/t1", name: "t" },
      { _id: "holder/h1", t: { $type: "ref", $id: "target/t1" } },
    ]),
    headers(t, "mallory"),
  );
  expect(setup.json.result.every((r: { _type: string }) => r._type === "record")).toBe(true);
  // The master key's user (_god) gets its _auth row on first use; not a case's doing.
  expect((await post(t.url, "/me", {}, headers(t, "master"))).status).toBe(200);
}

const save = (records: unknown, extra: Record<string, unknown> = {}): unknown => ({ records, ...extra });
const rec = (fields: Record<string, unknown>) => ({ _id: "note/hostile", ...fields });
const q = (extra: Record<string, unknown>) => ({ record_type: "note", ...extra });
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const long = (n: number) => "x".repeat(n);

const BODY: Case[] = [
  { name: "invalid JSON", path: "/record/save", body: '{"records": [', raw: true },
  { name: "invalid JSON quoting a password", path: "/auth/login", body: '{"password": "p4ss" x', raw: true },
  { name: "a JSON array body", path: "/record/save", body: "[1,2]", raw: true },
  { name: "a JSON string body", path: "/record/save", body: '"text"', raw: true },
  { name: "a JSON number body", path: "/record/query", body: "42", raw: true },
  { name: "a JSON boolean body", path: "/me", body: "true", raw: true },
  {
    name: "invalid UTF-8 bytes",
    path: "/record/save",
    body: new Uint8Array([
      ...Buffer.from('{"records":[{"_id":"note/u","t":"'),
      0xff,
      0xfe,
      ...Buffer.from('"}]}'),
    ]),
    raw: true,
  },
  {
    name: "a number past float64 (1e400)",
    path: "/record/save",
    body: '{"records":[{"_id":"note/n","v":1e400}]}',
    raw: true,
  },
  {
    name: "a negative number past float64",
    path: "/record/query",
    body: '{"record_type":"note","limit":-1e400}',
    raw: true,
  },
  { name: "NUL in a field name", path: "/record/save", body: save([rec({ "a\u0000b": "v" })]) },
  { name: "NUL in a field value", path: "/record/save", body: save([rec({ title: "a\u0000b" })]) },
  {
    name: "NUL in a nested json value",
    path: "/record/save",
    body: save([rec({ meta: { k: ["a\u0000"] } })]),
  },
  { name: "NUL in a record id", path: "/record/save", body: save([{ _id: "note/a\u0000b", title: "x" }]) },
  { name: "NUL in a record type", path: "/record/query", body: { record_type: "no\u0000te" } },
  { name: "NUL in an action name", path: "/", body: { action: "record:sa\u0000ve" } },
  {
    name: "NUL in a predicate literal",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("title"), "\u0000"] }),
  },
  { name: "NUL in a fetch id", path: "/record/fetch", body: { ids: ["note/\u0000"] } },
  { name: "NUL in a device id", path: "/device/register", body: { type: "ios", id: "d\u0000" } },
  {
    name: "a lone high surrogate in a value",
    path: "/record/save",
    body: save([rec({ title: "a\ud800b" })]),
  },
  { name: "a lone low surrogate in a key", path: "/record/save", body: save([rec({ "\udc00k": "v" })]) },
  {
    name: "a lone surrogate in a username",
    path: "/auth/signup",
    body: { auth_data: { username: "\ud83d" }, password: "p" },
    who: "client",
  },
  {
    name: "a body nested 100,000 deep",
    path: "/record/save",
    body: `{"records":[{"_id":"note/hostile","v":${nested(100_000, "[", "1", "]")}}]}`,
    raw: true,
  },
  {
    name: "a field value nested 100,000 deep (objects)",
    path: "/record/save",
    body: `{"records":[{"_id":"note/hostile","v":${nested(100_000, '{"a":', "1", "}")}}]}`,
    raw: true,
  },
  {
    name: "a predicate nested 10,000 deep",
    path: "/record/query",
    body: `{"record_type":"note","predicate":${nested(10_000, '["not",', '["eq",{"$type":"keypath","$val":"title"},"x"]', "]")}}`,
    raw: true,
  },
  {
    name: "an in list of 70,000 values",
    path: "/record/query",
    body: q({ predicate: ["in", kp("title"), many(70_000, (i) => `v${i}`)] }),
  },
  {
    name: "a predicate of 60,000 ANDed comparisons",
    path: "/record/query",
    body: q({ predicate: ["and", ...many(60_000, (i) => ["eq", kp("n"), i])] }),
  },
  {
    name: "a sort of 20,000 keys",
    path: "/record/query",
    body: q({ sort: many(20_000, () => [kp("title"), "asc"]) }),
  },
  {
    name: "an include of 5,000 keys",
    path: "/record/query",
    body: q({ include: Object.fromEntries(many(5000, (i) => [`k${i}`, kp("_owner")] as const)) }),
  },
  {
    name: "100,000 records in one save",
    path: "/record/save",
    body: save(many(100_000, (i) => ({ _id: `note/m${i}`, title: "x" }))),
  },
  { name: "1,001 ids in one fetch", path: "/record/fetch", body: { ids: many(1001, (i) => `note/f${i}`) } },
  { name: "1,001 ids in one delete", path: "/record/delete", body: { ids: many(1001, (i) => `note/d${i}`) } },
];

const CREDENTIALS: Case[] = [
  {
    name: "api_key as an object",
    path: "/record/save",
    body: { api_key: { k: 1 }, ...(save([rec({})]) as object) },
    who: "none",
  },
  {
    name: "api_key as an array",
    path: "/record/query",
    body: (x: Target) => ({ api_key: [x.apiKey], ...q({}) }),
    who: "none",
  },
  { name: "a wrong api key", path: "/record/query", body: { api_key: "wrong", ...q({}) }, who: "none" },
  { name: "an api key of 8 KB", path: "/record/query", body: { api_key: long(8192), ...q({}) }, who: "none" },
  { name: "no key and no token", path: "/record/save", body: save([rec({})]), who: "none" },
  {
    name: "access_token as a number (absent) with the client key",
    path: "/record/save",
    body: { access_token: 5, ...(save([rec({})]) as object) },
    who: "client",
  },
  { name: "an unknown access token", path: "/me", body: { access_token: "not-a-token" }, who: "client" },
  { name: "an access token of 10 KB", path: "/me", body: { access_token: long(10_240) }, who: "client" },
  { name: "an access token holding NUL", path: "/me", body: { access_token: "a\u0000b" }, who: "client" },
  {
    name: "_user_id with the client key is ignored (still anonymous)",
    path: "/record/save",
    body: { _user_id: "x", ...(save([rec({})]) as object) },
    who: "client",
  },

  { name: "an unknown action", path: "/", body: { action: "record:upsert" } },
  { name: "an unknown path", path: "/record/upsert", body: {} },
  { name: "an action name of 10 KB", path: "/", body: { action: long(10_240) } },
];

const AUTH: Case[] = [
  {
    name: "signup: auth_data a string",
    path: "/auth/signup",
    body: { auth_data: "alice", password: "p" },
    who: "client",
  },
  {
    name: "signup: auth_data an array",
    path: "/auth/signup",
    body: { auth_data: ["alice"], password: "p" },
    who: "client",
  },
  {
    name: "signup: an auth_data key not allowed",
    path: "/auth/signup",
    body: { auth_data: { nickname: "n" }, password: "p" },
    who: "client",
  },
  {
    name: "signup: username a number",
    path: "/auth/signup",
    body: { auth_data: { username: 5 }, password: "p" },
    who: "client",
  },
  {
    name: "signup: username an object",
    path: "/auth/signup",
    body: { auth_data: { username: {} }, password: "p" },
    who: "client",
  },
  {
    name: "signup: username empty",
    path: "/auth/signup",
    body: { auth_data: { username: "" }, password: "p" },
    who: "client",
  },
  {
    name: "signup: username with NUL",
    path: "/auth/signup",
    body: { auth_data: { username: "ev\u0000il" }, password: "p" },
    who: "client",
  },
  {
    name: "signup: username of 10 KB",
    path: "/auth/signup",
    body: { auth_data: { username: long(10_240) }, password: "p" },
    who: "client",
  },
  {
    name: "signup: email of 10 KB",
    path: "/auth/signup",
    body: { auth_data: { email: `${long(10_240)}@x.io` }, password: "p" },
    who: "client",
  },
  {
    name: "signup: password a number",
    path: "/auth/signup",
    body: { auth_data: { username: "pn" }, password: 5 },
    who: "client",
  },
  {
    name: "signup: password an object",
    path: "/auth/signup",
    body: { auth_data: { username: "po" }, password: { p: 1 } },
    who: "client",
  },
  {
    name: "signup: no password",
    path: "/auth/signup",
    body: { auth_data: { username: "np" } },
    who: "client",
  },
  {
    name: "signup: profile a string",
    path: "/auth/signup",
    body: { auth_data: { username: "ps" }, password: "p", profile: "x" },
    who: "client",
  },
  {
    name: "signup: profile an array",
    path: "/auth/signup",
    body: { auth_data: { username: "pa" }, password: "p", profile: [1] },
    who: "client",
  },
  {
    name: "signup: profile with an unknown $type",
    path: "/auth/signup",
    body: { auth_data: { username: "pt" }, password: "p", profile: { x: { $type: "martian" } } },
    who: "client",
  },
  {
    name: "signup: profile with a reference to nothing",
    path: "/auth/signup",
    body: {
      auth_data: { username: "pr" },
      password: "p",
      profile: { x: { $type: "ref", $id: "note/none" } },
    },
    who: "client",
    ddl: true,
  },
  {
    name: "signup: a taken username",
    path: "/auth/signup",
    body: { auth_data: { username: "alice" }, password: "p" },
    who: "client",
  },
  {
    name: "signup: without a key",
    path: "/auth/signup",
    body: { auth_data: { username: "nk" }, password: "p" },
    who: "none",
  },
  {
    name: "login: an unknown user",
    path: "/auth/login",
    body: { auth_data: { username: "nobody" }, password: "p" },
    who: "client",
  },
  {
    name: "login: a wrong password",
    path: "/auth/login",
    body: { auth_data: { username: "alice" }, password: "wrong" },
    who: "client",
  },
  { name: "login: no auth_data", path: "/auth/login", body: { password: "p" }, who: "client" },
  {
    name: "login: password an object",
    path: "/auth/login",
    body: { auth_data: { username: "alice" }, password: {} },
    who: "client",
  },
  {
    name: "login: a username of 10 KB",
    path: "/auth/login",
    body: { auth_data: { username: long(10_240) }, password: "p" },
    who: "client",
  },
  {
    name: "login: auth_data a number",
    path: "/auth/login",
    body: { auth_data: 7, password: "p" },
    who: "client",
  },
  { name: "logout: no credentials", path: "/auth/logout", body: {}, who: "none" },
  { name: "logout: an unknown token", path: "/auth/logout", body: { access_token: "nope" }, who: "client" },
  { name: "me: no key", path: "/me", body: {}, who: "none" },
  { name: "me: the client key alone", path: "/me", body: {}, who: "client" },
];

const DEVICES_PUSH: Case[] = [
  { name: "device:register: no type", path: "/device/register", body: { device_token: "t" } },
  { name: "device:register: type an object", path: "/device/register", body: { type: { t: "ios" } } },
  { name: "device:register: an unknown type", path: "/device/register", body: { type: "windows" } },
  { name: "device:register: an unknown id", path: "/device/register", body: { type: "ios", id: "nope" } },
  {
    name: "device:register: an id of 10 KB",
    path: "/device/register",
    body: { type: "ios", id: long(10_240) },
  },
  { name: "device:register: without a user", path: "/device/register", body: { type: "ios" }, who: "client" },
  { name: "device:unregister: no id", path: "/device/unregister", body: {} },
  { name: "device:unregister: an unknown id", path: "/device/unregister", body: { id: "nope" } },
  { name: "device:unregister: id an object", path: "/device/unregister", body: { id: { a: 1 } } },
  { name: "push:user: no user_ids", path: "/push/user", body: { notification: {} }, who: "client" },
  {
    name: "push:user: user_ids a string",
    path: "/push/user",
    body: { user_ids: "u", notification: {} },
    who: "client",
  },
  {
    name: "push:user: user_ids empty",
    path: "/push/user",
    body: { user_ids: [], notification: {} },
    who: "client",
  },
  {
    name: "push:user: user_ids of numbers",
    path: "/push/user",
    body: { user_ids: [1, 2], notification: {} },
    who: "client",
  },
  { name: "push:user: no notification", path: "/push/user", body: { user_ids: ["u"] }, who: "client" },
  {
    name: "push:user: notification an array",
    path: "/push/user",
    body: { user_ids: ["u"], notification: [1] },
    who: "client",
  },
  { name: "push:user: no key", path: "/push/user", body: { user_ids: ["u"], notification: {} }, who: "none" },
  {
    name: "push:device: device_ids of objects",
    path: "/push/device",
    body: { device_ids: [{}], notification: {} },
    who: "client",
  },
  {
    name: "push:device: notification a string",
    path: "/push/device",
    body: { device_ids: ["d"], notification: "hi" },
    who: "client",
  },
];

const SAVE: Case[] = [
  { name: "save: no records", path: "/record/save", body: {} },
  { name: "save: records an object", path: "/record/save", body: { records: { _id: "note/x" } } },
  { name: "save: records empty", path: "/record/save", body: save([]) },
  {
    name: "save: 1,001 records",
    path: "/record/save",
    body: save(many(1001, (i) => ({ _id: `note/k${i}` }))),
  },
  { name: "save: a record that is a number", path: "/record/save", body: save([5]), item: true },
  { name: "save: a record that is null", path: "/record/save", body: save([null]), item: true },
  { name: "save: no _id", path: "/record/save", body: save([{ title: "x" }]), item: true },
  { name: "save: _id a number", path: "/record/save", body: save([{ _id: 5 }]), item: true },
  { name: "save: _id without a type", path: "/record/save", body: save([{ _id: "noslash" }]), item: true },
  {
    name: "save: a system table as type",
    path: "/record/save",
    body: save([{ _id: "_auth/x", password: "p" }]),
    item: true,
  },
  {
    name: "save: a type of 64 bytes",
    path: "/record/save",
    body: save([{ _id: `${long(64)}/x` }]),
    item: true,
  },
  {
    name: "save: a type with a double quote",
    path: "/record/save",
    body: save([{ _id: 'no"te/x' }]),
    item: true,
  },
  {
    name: "save: a key of 10 KB",
    path: "/record/save",
    body: save([{ _id: `note/${randomBytes(12_000).toString("base64url")}`, title: "x" }]),
    item: true,
  },
  {
    name: "save: _access a string",
    path: "/record/save",
    body: save([rec({ _access: "public" })]),
    item: true,
  },
  { name: "save: an empty ACE", path: "/record/save", body: save([rec({ _access: [{}] })]), item: true },
  {
    name: "save: an ACE with an unknown level",
    path: "/record/save",
    body: save([rec({ _access: [{ level: "admin", public: true }] })]),
    item: true,
  },
  {
    name: "save: a field name of 64 bytes",
    path: "/record/save",
    body: save([rec({ [long(64)]: 1 })]),
    item: true,
  },
  {
    name: "save: an unknown $type",
    path: "/record/save",
    body: save([rec({ v: { $type: "martian" } })]),
    item: true,
  },
  {
    name: "save: a nested unknown $type",
    path: "/record/save",
    body: save([rec({ v: { a: [{ $type: 5 }] } })]),
    item: true,
  },
  {
    name: "save: a malformed $date",
    path: "/record/save",
    body: save([rec({ at: { $type: "date", $date: "yesterday" } })]),
    item: true,
  },
  {
    name: "save: a $date in year 0",
    path: "/record/save",
    body: save([rec({ at: { $type: "date", $date: "0000-01-01T00:00:00Z" } })]),
    item: true,
  },
  {
    name: "save: a $date in year 99999",
    path: "/record/save",
    body: save([rec({ at: { $type: "date", $date: "99999-01-01T00:00:00Z" } })]),
    item: true,
  },
  {
    name: "save: a malformed ref",
    path: "/record/save",
    body: save([rec({ r: { $type: "ref", $id: "bad" } })]),
    item: true,
  },
  {
    name: "save: a ref to nothing",
    path: "/record/save",
    body: save([rec({ target: { $type: "ref", $id: "target/none" } })]),
    item: true,
    ddl: true,
  },
  {
    name: "save: a keypath as data",
    path: "/record/save",
    body: save([rec({ v: kp("title") })]),
    item: true,
  },
  { name: "save: a field's type changed", path: "/record/save", body: save([rec({ title: 5 })]) },
  {
    name: "save: a batch disagreeing on a type",
    path: "/record/save",
    body: save([
      { _id: "fresh/a", v: 1 },
      { _id: "fresh/b", v: "x" },
    ]),
  },
  {
    name: "save: a value nested 65 deep",
    path: "/record/save",
    body: save([rec({ v: deep(65, 1, (x) => [x]) })]),
    item: true,
  },
  {
    name: "save: 1,700 fields in one record",
    path: "/record/save",
    body: save([{ _id: "wide/w", ...Object.fromEntries(many(1700, (i) => [`f${i}`, "v"] as const)) }]),
  },
  { name: "save: database_id a number", path: "/record/save", body: save([rec({})], { database_id: 5 }) },
  {
    name: "save: the union database",
    path: "/record/save",
    body: save([rec({})], { database_id: "_union" }),
  },
  {
    name: "save: an unknown reserved database",
    path: "/record/save",
    body: save([rec({})], { database_id: "_nope" }),
  },
  {
    name: "save: another user's private database",
    path: "/record/save",
    body: (x: Target) => save([rec({})], { database_id: x.bob.id }),
  },
  {
    name: "save: _private without a user",
    path: "/record/save",
    body: save([rec({})], { database_id: "_private" }),
    who: "client",
  },
  {
    name: "save: atomic with a malformed record",
    path: "/record/save",
    body: save([rec({ title: "ok" }), { _id: "noslash" }], { atomic: true }),
  },
  {
    name: "save: atomic with a ref to nothing",
    path: "/record/save",
    body: save([rec({ title: "ok" }), { _id: "note/x2", target: { $type: "ref", $id: "target/none" } }], {
      atomic: true,
    }),
    ddl: true,
  },
];

const QUERY: Case[] = [
  { name: "query: no record_type", path: "/record/query", body: {} },
  { name: "query: record_type a number", path: "/record/query", body: { record_type: 5 } },
  { name: "query: a system table", path: "/record/query", body: { record_type: "_auth" } },
  { name: "query: the token table", path: "/record/query", body: { record_type: "_skyflow_token" } },
  { name: "query: a type of 64 bytes", path: "/record/query", body: { record_type: long(64) } },
  { name: "query: predicate a string", path: "/record/query", body: q({ predicate: "title = 'x'" }) },
  { name: "query: predicate empty", path: "/record/query", body: q({ predicate: [] }) },
  { name: "query: predicate [5]", path: "/record/query", body: q({ predicate: [5] }) },
  {
    name: "query: an unknown operator",
    path: "/record/query",
    body: q({ predicate: ["drop", kp("title"), 1] }),
  },
  { name: "query: eq without operands", path: "/record/query", body: q({ predicate: ["eq"] }) },
  { name: "query: eq with one operand", path: "/record/query", body: q({ predicate: ["eq", kp("title")] }) },
  {
    name: "query: eq with three operands",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("title"), 1, 2] }),
  },
  { name: "query: an empty key path", path: "/record/query", body: q({ predicate: ["eq", kp(""), 1] }) },
  {
    name: "query: a key path that is a number",
    path: "/record/query",
    body: q({ predicate: ["eq", kp(5), 1] }),
  },
  {
    name: "query: a key path that is SQL",
    path: "/record/query",
    body: q({ predicate: ["eq", kp('title" OR 1=1 --'), 1] }),
  },
  {
    name: "query: an unknown field",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("nofield"), 1] }),
  },
  {
    name: "query: a reserved column",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("_access"), 1] }),
  },
  {
    name: "query: a three-part key path",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("a.b.c"), 1] }),
  },
  {
    name: "query: a dotted path through a non-reference",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("title.x"), 1] }),
  },
  {
    name: "query: eq with an array literal",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("title"), [1, 2]] }),
  },
  {
    name: "query: eq with an object literal",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("title"), { a: 1 }] }),
  },
  { name: "query: eq of two literals", path: "/record/query", body: q({ predicate: ["eq", 1, 1] }) },
  {
    name: "query: like with a number pattern",
    path: "/record/query",
    body: q({ predicate: ["like", kp("title"), 5] }),
  },
  {
    name: "query: like on the right",
    path: "/record/query",
    body: q({ predicate: ["like", "x", kp("title")] }),
  },
  {
    name: "query: like on a number field",
    path: "/record/query",
    body: q({ predicate: ["like", kp("n"), "1%"] }),
  },
  {
    name: "query: gt of a number field and text",
    path: "/record/query",
    body: q({ predicate: ["gt", kp("n"), "abc"] }),
  },
  { name: "query: gt with null", path: "/record/query", body: q({ predicate: ["gt", kp("title"), null] }) },
  {
    name: "query: in with a non-list",
    path: "/record/query",
    body: q({ predicate: ["in", kp("title"), "x"] }),
  },
  {
    name: "query: in with a nested list",
    path: "/record/query",
    body: q({ predicate: ["in", kp("title"), [[1]]] }),
  },
  {
    name: "query: in with an object item",
    path: "/record/query",
    body: q({ predicate: ["in", kp("title"), [{ a: 1 }]] }),
  },
  {
    name: "query: in on a non-json field",
    path: "/record/query",
    body: q({ predicate: ["in", "x", kp("title")] }),
  },
  {
    name: "query: an unknown function",
    path: "/record/query",
    body: q({ predicate: ["func", "pg_sleep", 10] }),
  },
  {
    name: "query: a malformed $date literal",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("at"), { $type: "date", $date: "soon" }] }),
  },
  {
    name: "query: a $date in year 0",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("at"), { $type: "date", $date: "0000-01-01T00:00:00Z" }] }),
  },
  {
    name: "query: a malformed ref literal",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("title"), { $type: "ref", $id: "x" }] }),
  },
  {
    name: "query: a json literal that is not json",
    path: "/record/query",
    body: q({ predicate: ["eq", kp("meta"), "not json"] }),
  },
  { name: "query: and without operands", path: "/record/query", body: q({ predicate: ["and"] }) },
  {
    name: "query: not with two operands",
    path: "/record/query",
    body: q({ predicate: ["not", ["eq", kp("n"), 1], ["eq", kp("n"), 2]] }),
  },
  { name: "query: and of non-predicates", path: "/record/query", body: q({ predicate: ["and", 1, "x"] }) },
  { name: "query: sort a string", path: "/record/query", body: q({ sort: "title" }) },
  { name: "query: a sort entry of one item", path: "/record/query", body: q({ sort: [["title"]] }) },
  {
    name: "query: an unknown sort direction",
    path: "/record/query",
    body: q({ sort: [[kp("title"), "sideways"]] }),
  },
  { name: "query: sort by a literal", path: "/record/query", body: q({ sort: [[5, "asc"]] }) },
  {
    name: "query: sort by an unknown field",
    path: "/record/query",
    body: q({ sort: [[kp("nofield"), "asc"]] }),
  },
  { name: "query: a negative limit", path: "/record/query", body: q({ limit: -1 }) },
  { name: "query: limit a string", path: "/record/query", body: q({ limit: "10" }) },
  { name: "query: a limit of 1e308", path: "/record/query", body: q({ limit: 1e308 }) },
  { name: "query: a negative offset", path: "/record/query", body: q({ offset: -5 }) },
  { name: "query: an offset of 1e20", path: "/record/query", body: q({ offset: 1e20 }) },
  { name: "query: include a string", path: "/record/query", body: q({ include: "target" }) },
  { name: "query: include a number", path: "/record/query", body: q({ include: { a: 5 } }) },
  {
    name: "query: include of a non-reference",
    path: "/record/query",
    body: q({ include: { a: kp("title") } }),
  },
  { name: "query: desired_keys a string", path: "/record/query", body: q({ desired_keys: "title" }) },
  { name: "query: desired_keys of numbers", path: "/record/query", body: q({ desired_keys: [5] }) },
  { name: "query: an unknown desired key", path: "/record/query", body: q({ desired_keys: ["nofield"] }) },
  {
    name: "query: the union database without the master key",
    path: "/record/query",
    body: q({ database_id: "_union" }),
  },
  {
    name: "query: another user's private database",
    path: "/record/query",
    body: (x: Target) => q({ database_id: x.bob.id }),
  },
  {
    name: "query: _private without a user",
    path: "/record/query",
    body: q({ database_id: "_private" }),
    who: "client",
  },
  { name: "query: database_id an object", path: "/record/query", body: q({ database_id: { a: 1 } }) },
];

const FETCH_DELETE: Case[] = [
  { name: "fetch: no ids", path: "/record/fetch", body: {} },
  { name: "fetch: ids a string", path: "/record/fetch", body: { ids: "note/x" } },
  { name: "fetch: ids empty", path: "/record/fetch", body: { ids: [] } },
  { name: "fetch: an id that is a number", path: "/record/fetch", body: { ids: [5] } },
  { name: "fetch: an id without a type", path: "/record/fetch", body: { ids: ["noslash"] } },
  { name: "fetch: a system table", path: "/record/fetch", body: { ids: ["_auth/x"] } },
  {
    name: "fetch: another user's private database",
    path: "/record/fetch",
    body: (x: Target) => ({ ids: ["note/x"], database_id: x.bob.id }),
  },
  { name: "delete: no ids", path: "/record/delete", body: {} },
  { name: "delete: an id without a type", path: "/record/delete", body: { ids: ["noslash"] } },
  {
    name: "delete: a record that does not exist",
    path: "/record/delete",
    body: { ids: ["note/none"] },
    item: true,
  },
  {
    name: "delete: another user's user record",
    path: "/record/delete",
    body: (x: Target) => ({ ids: [`user/${x.bob.id}`] }),
    item: true,
  },
  {
    name: "delete: a record still referenced",
    path: "/record/delete",
    body: { ids: ["target/t1"] },
    item: true,
  },
  {
    name: "delete: the union database",
    path: "/record/delete",
    body: { ids: ["note/seed"], database_id: "_union" },
    who: "master",
  },
  { name: "delete: without a user", path: "/record/delete", body: { ids: ["note/seed"] }, who: "client" },
  {
    name: "delete: atomic with a missing record",
    path: "/record/delete",
    body: { ids: ["note/seed", "note/none"], atomic: true },
  },
];

export const HOSTILE_CASES: Case[] = [
  ...BODY,
  ...CREDENTIALS,
  ...AUTH,
  ...DEVICES_PUSH,
  ...SAVE,
  ...QUERY,
  ...FETCH_DELETE,
];
