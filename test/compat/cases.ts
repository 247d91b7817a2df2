// Cases replayed from the original server's handler tests (SkygearIO/skygear-server v1.7.3,
// pkg/server/handler/*_test.go): each Go test's request/response pair, translated to HTTP requests against a
// server that starts with nothing but three signed-up users (alice, bob, carol). The Go tests ran the handler
// on a mock database; here the state a test assumed (a read-only record, an existing field) is made by
// earlier steps of the same case. Record types are per case so the cases do not see each other's tables.
import type { Request } from "./harness.js";

export interface ReplayCase {
  /** `file: Convey path` of the Go test it comes from. */
  name: string;
  steps: Request[];
}

const kp = (v: string) => ({ $type: "keypath", $val: v });
const save = (records: unknown[], as?: string, extra: Record<string, unknown> = {}): Request => ({
  body: { action: "record:save", database_id: "_public", records, ...extra },
  ...(as === "master" ? { key: "master" as const } : as ? { as } : {}),
});
const query = (body: Record<string, unknown>, as = "alice"): Request => ({
  body: { action: "record:query", database_id: "_public", ...body },
  ...(as === "master" ? { key: "master" as const } : as === "anon" ? {} : { as }),
});
const fetch = (ids: string[], as = "alice"): Request => ({
  body: { action: "record:fetch", database_id: "_public", ids },
  ...(as === "master" ? { key: "master" as const } : { as }),
});
const del = (ids: string[], as = "alice", extra: Record<string, unknown> = {}): Request => ({
  body: { action: "record:delete", database_id: "_public", ids, ...extra },
  ...(as === "master" ? { key: "master" as const } : { as }),
});
const readonlyFor = (u: string) => [{ level: "read", user_id: `{{${u}}}` }];
const master = (body: Record<string, unknown>): Request => ({ body, key: "master" });

export const REPLAY_CASES: ReplayCase[] = [
  // --- record_test.go: RecordDeleteHandler
  {
    name: "record_test.go: RecordDeleteHandler deletes existing records",
    steps: [save([{ _id: "d1note/0" }, { _id: "d1note/1" }], "alice"), del(["d1note/0", "d1note/1"])],
  },
  {
    name: "record_test.go: RecordDeleteHandler returns error when record doesn't exist",
    steps: [save([{ _id: "d2note/0" }], "alice"), del(["d2note/0", "d2note/notexistid"])],
  },
  {
    name: "record_test.go: RecordDeleteHandler cannot delete user record",
    steps: [del(["user/{{alice}}"])],
  },
  {
    name: "record_test.go: RecordDeleteHandler permission denied on delete a readonly record",
    steps: [
      save([{ _id: "d4note/readonly", _access: readonlyFor("alice") }], "bob"),
      del(["d4note/readonly"], "alice"),
    ],
  },
  // --- record_test.go: RecordSaveHandler
  {
    name: "record_test.go: RecordSaveHandler Saves multiple records",
    steps: [
      save(
        [
          { _id: "s1type1/id1", k1: "v1", k2: "v2" },
          { _id: "s1type2/id2", k3: "v3", k4: "v4" },
        ],
        "alice",
      ),
    ],
  },
  {
    name: "record_test.go: RecordSaveHandler Should not be able to create record when no permission",
    steps: [
      master({ action: "schema:access", type: "s2report", create_roles: ["admin"] }),
      save([{ _id: "s2report/id1", k1: "v1", k2: "v2" }], "alice"),
    ],
  },
  {
    name: "record_test.go: RecordSaveHandler Removes reserved keys on save",
    steps: [save([{ _id: "s3type1/id1", floatkey: 1, _reserved_key: "reserved_value" }], "alice")],
  },
  {
    name: "record_test.go: RecordSaveHandler Returns error if _id is missing or malformated",
    steps: [save([{}, { _id: "invalidkey" }], "alice")],
  },
  {
    name: "record_test.go: RecordSaveHandler Permission denied on saving a read only record",
    steps: [
      save([{ _id: "s5note/readonly", _access: readonlyFor("alice") }], "bob"),
      save([{ _id: "s5note/readonly", content: "hello" }], "alice"),
    ],
  },
  {
    name: "record_test.go: RecordSaveHandler REGRESSION #140: Save record correctly when record._access is null",
    steps: [save([{ _id: "s6type/id", _access: null }], "alice")],
  },
  {
    name: "record_test.go: RecordSaveHandler REGRESSION #333: Save record with empty key be ignored",
    steps: [save([{ _id: "s7type/id", "": "" }], "alice"), fetch(["s7type/id"])],
  },
  {
    name: "record_test.go: RecordSaveHandler Parses date",
    steps: [
      save(
        [{ _id: "s8type1/id1", date_value: { $type: "date", $date: "2015-04-10T17:35:20+08:00" } }],
        "alice",
      ),
      fetch(["s8type1/id1"]),
    ],
  },
  {
    name: "record_test.go: RecordSaveHandler Parses Reference",
    steps: [
      save([{ _id: "s9type2/id2" }], "alice"),
      save([{ _id: "s9type1/id1", ref: { $type: "ref", $id: "s9type2/id2" } }], "alice"),
      fetch(["s9type1/id1"]),
    ],
  },
  {
    name: "record_test.go: RecordSaveHandler Parses Location",
    steps: [
      save([{ _id: "s10type1/id1", geo: { $type: "geo", $lng: 1, $lat: 2 } }], "alice"),
      fetch(["s10type1/id1"]),
      query({ record_type: "s10type1" }),
    ],
  },
  {
    name: "record_test.go: RecordSaveHandler parse sequence field correctly / can save without specifying seq",
    steps: [
      save([{ _id: "s11note/1", seq: { $type: "seq" } }], "alice"),
      save([{ _id: "s11note/2", content: "x" }], "alice"),
      query({ record_type: "s11note", sort: [[kp("_created_at"), "asc"]] }),
    ],
  },
  {
    name: "record_test.go: REGRESSION #119: Database.Extend should be called when all record are invalid",
    steps: [save([{ _id: "s12note/1", _access: "bad" }], "alice")],
  },
  // --- record_test.go: RecordQueryHandler
  {
    name: "record_test.go: REGRESSION #227: query returns correct results from db",
    steps: [
      save(
        [
          { _id: "q1note/1", noteOrder: 1 },
          { _id: "q1note/2", noteOrder: 2 },
        ],
        "alice",
      ),
      query({ record_type: "q1note", sort: [[kp("noteOrder"), "asc"]] }),
    ],
  },
  {
    name: "record_test.go: Queries records with type and user / master key",
    steps: [
      save([{ _id: "q2note/1", noteOrder: 1 }], "alice"),
      query({ record_type: "q2note" }, "bob"),
      query({ record_type: "q2note" }, "master"),
    ],
  },
  {
    name: "record_test.go: Queries records with sorting",
    steps: [
      save(
        [
          { _id: "q3note/1", noteOrder: 1 },
          { _id: "q3note/2", noteOrder: 2 },
        ],
        "alice",
      ),
      query({ record_type: "q3note", sort: [[kp("noteOrder"), "desc"]] }),
    ],
  },
  {
    name: "record_test.go: Queries records with sorting by distance function",
    steps: [
      save(
        [
          { _id: "q4note/1", location: { $type: "geo", $lng: 1, $lat: 2 } },
          { _id: "q4note/2", location: { $type: "geo", $lng: 3, $lat: 4 } },
        ],
        "alice",
      ),
      query({
        record_type: "q4note",
        sort: [[["func", "distance", kp("location"), { $type: "geo", $lng: 3, $lat: 4 }], "asc"]],
      }),
    ],
  },
  {
    name: "record_test.go: Queries records with predicate",
    steps: [
      save(
        [
          { _id: "q5note/1", noteOrder: 1 },
          { _id: "q5note/2", noteOrder: 2 },
        ],
        "alice",
      ),
      query({ record_type: "q5note", predicate: ["eq", kp("noteOrder"), 1] }),
    ],
  },
  {
    name: "record_test.go: Queries records with complex predicate",
    steps: [
      save(
        [
          { _id: "q6note/1", noteOrder: 1, content: "hello" },
          { _id: "q6note/2", noteOrder: 2, content: "bye" },
        ],
        "alice",
      ),
      query({
        record_type: "q6note",
        predicate: ["and", ["eq", kp("content"), "hello"], ["gte", kp("noteOrder"), 1]],
      }),
    ],
  },
  {
    name: "record_test.go: Queries records by distance func",
    steps: [
      save(
        [
          { _id: "q7note/1", location: { $type: "geo", $lng: 1, $lat: 2 } },
          { _id: "q7note/2", location: { $type: "geo", $lng: 30, $lat: 40 } },
        ],
        "alice",
      ),
      query({
        record_type: "q7note",
        predicate: ["lt", ["func", "distance", kp("location"), { $type: "geo", $lng: 1, $lat: 2 }], 500],
      }),
      query({
        record_type: "q7note",
        predicate: [
          "gt",
          7_000_000,
          ["func", "distance", kp("location"), { $type: "geo", $lng: 1, $lat: 2 }],
        ],
        sort: [[kp("_created_at"), "asc"]],
      }),
      query({
        record_type: "q7note",
        predicate: ["gte", ["func", "distance", kp("location"), { $type: "geo", $lng: 1, $lat: 2 }], 10],
      }),
    ],
  },
  {
    name: "record_test.go: Return calculated distance",
    steps: [
      save([{ _id: "q8note/1", location: { $type: "geo", $lng: 1, $lat: 2 } }], "alice"),
      query({
        record_type: "q8note",
        include: {
          distance: ["func", "distance", kp("location"), { $type: "geo", $lng: 1, $lat: 2 }],
        },
      }),
    ],
  },
  {
    name: "record_test.go: Return records with desired keys only / empty / nil",
    steps: [
      save([{ _id: "q9note/1", noteOrder: 1, content: "hi" }], "alice"),
      query({ record_type: "q9note", desired_keys: ["noteOrder"] }),
      query({ record_type: "q9note", desired_keys: [] }),
      query({ record_type: "q9note", desired_keys: null }),
    ],
  },
  {
    name: "record_test.go: Queries records with offset",
    steps: [
      save(
        [
          { _id: "q10note/1", n: 1 },
          { _id: "q10note/2", n: 2 },
          { _id: "q10note/3", n: 3 },
        ],
        "alice",
      ),
      query({ record_type: "q10note", limit: 1, offset: 1, sort: [[kp("n"), "asc"]] }),
      query({ record_type: "q10note", limit: 200, offset: 400 }),
    ],
  },
  {
    name: "record_test.go: Queries records with count",
    steps: [
      save(
        [
          { _id: "q11note/1", n: 1 },
          { _id: "q11note/2", n: 2 },
        ],
        "alice",
      ),
      query({ record_type: "q11note", count: true, limit: 1, sort: [[kp("n"), "asc"]] }),
    ],
  },
  {
    name: "record_test.go: Propagate invalid query error",
    steps: [
      save([{ _id: "q12note/1", content: "x" }], "alice"),
      query({ record_type: "q12note", predicate: ["eq", kp("content"), {}] }),
    ],
  },
  {
    name: "record_test.go: invalid query on a type without a table is validated first",
    steps: [query({ record_type: "q13none", predicate: ["eq", kp("content"), {}] })],
  },
  {
    name: "query_test.go: unknown operator",
    steps: [
      save([{ _id: "q14note/1", content: "x" }], "alice"),
      query({ record_type: "q14note", predicate: ["notanop", kp("content"), 1] }),
    ],
  },
  {
    name: "query_test.go: sort order other than asc/desc",
    steps: [
      save([{ _id: "q15note/1", content: "x" }], "alice"),
      query({ record_type: "q15note", sort: [[kp("content"), "up"]] }),
    ],
  },
  // --- record_test.go: owner id serialisation and meta data
  {
    name: "record_test.go: fetched/saved/queried record serializes owner id correctly",
    steps: [
      save([{ _id: "o1record/id" }], "alice"),
      fetch(["o1record/id"]),
      query({ record_type: "o1record" }),
    ],
  },
  {
    name: "record_test.go: Record Meta Data on a newly created / an existing record",
    steps: [
      save([{ _id: "m1record/id", _access: null }], "alice"),
      save([{ _id: "m1record/id", x: 1 }], "bob"),
      fetch(["m1record/id"], "carol"),
    ],
  },
  {
    name: "record_test.go: RecordFetchHandler missing record and bad id",
    steps: [save([{ _id: "f1note/1" }], "alice"), fetch(["f1note/1", "f1note/missing", "badid"])],
  },
  // --- record_test.go: eager load (include)
  {
    name: "record_test.go: query record with eager load / multiple eager load",
    steps: [
      save([{ _id: "e1category/a", title: "A" }], "alice"),
      save(
        [
          {
            _id: "e1note/1",
            category: { $type: "ref", $id: "e1category/a" },
            city: { $type: "ref", $id: "e1category/a" },
          },
        ],
        "alice",
      ),
      query({ record_type: "e1note", include: { category: kp("category") } }),
      query({ record_type: "e1note", include: { category: kp("category"), city: kp("city") } }),
    ],
  },
  {
    name: "record_test.go: query record with eager load on user",
    steps: [
      save([{ _id: "e2note/1" }], "alice"),
      query({ record_type: "e2note", include: { owner: kp("_owner") } }),
    ],
  },
  {
    name: "record_test.go: query record with eager load on non public record (with permission)",
    steps: [
      save([{ _id: "e3secret/a", title: "A", _access: [{ level: "read", user_id: "{{alice}}" }] }], "alice"),
      save([{ _id: "e3note/1", secret: { $type: "ref", $id: "e3secret/a" } }], "alice"),
      query({ record_type: "e3note", include: { secret: kp("secret") } }, "alice"),
    ],
  },
  {
    name: "record_test.go: query record with eager load on null reference",
    steps: [
      save([{ _id: "e4category/a" }], "alice"),
      save(
        [
          { _id: "e4note/1", category: { $type: "ref", $id: "e4category/a" } },
          { _id: "e4note/2", category: null },
        ],
        "alice",
      ),
      query({
        record_type: "e4note",
        include: { category: kp("category") },
        sort: [[kp("_created_at"), "asc"]],
      }),
    ],
  },
  {
    name: "record_test.go: get count of records",
    steps: [
      save([{ _id: "c1note/1" }, { _id: "c1note/2" }, { _id: "c1note/3" }], "alice"),
      query({ record_type: "c1note", count: true, limit: 2 }),
    ],
  },
  // --- record_test.go: Atomic Operation
  {
    name: "record_test.go: Atomic RecordSaveHandler rolls back saved records on error",
    steps: [
      save([{ _id: "a1note/ro", _access: readonlyFor("alice") }], "bob"),
      save(
        [
          { _id: "a1note/0", x: 1 },
          { _id: "a1note/ro", x: 2 },
        ],
        "alice",
        { atomic: true },
      ),
      fetch(["a1note/0"]),
    ],
  },
  {
    name: "record_test.go: Atomic RecordSaveHandler commit saved records when there are no errors",
    steps: [
      save([{ _id: "a2note/0" }, { _id: "a2note/1" }], "alice", { atomic: true }),
      fetch(["a2note/0", "a2note/1"]),
    ],
  },
  {
    name: "record_test.go: Atomic RecordSaveHandler fails whole request on any records mal-format",
    steps: [save([{ _id: "a3note/0" }, { _id: "malformed" }], "alice", { atomic: true })],
  },
  {
    name: "record_test.go: Atomic RecordDeleteHandler rolls back deleted records on error",
    steps: [
      save([{ _id: "a4note/0" }], "alice"),
      del(["a4note/0", "a4note/notexist"], "alice", { atomic: true }),
      fetch(["a4note/0"]),
    ],
  },
  {
    name: "record_test.go: Atomic RecordDeleteHandler commits deleted records",
    steps: [
      save([{ _id: "a5note/0" }, { _id: "a5note/1" }], "alice"),
      del(["a5note/0", "a5note/1"], "alice", { atomic: true }),
      fetch(["a5note/0"]),
    ],
  },
  // --- auth_test.go
  {
    name: "auth_test.go: SignupHandler sign up new account with profile",
    steps: [
      {
        body: {
          action: "auth:signup",
          auth_data: { username: "john.doe", email: "john.doe@example.com" },
          password: "secret",
          profile: { nickname: "iamyourfather" },
        },
      },
    ],
  },
  {
    name: "auth_test.go: SignupHandler sign up with invalid auth data",
    steps: [
      { body: { action: "auth:signup", auth_data: { iamyourfather: "john.doe" }, password: "secret" } },
    ],
  },
  {
    name: "auth_test.go: SignupHandler sign up with duplicated keys in auth data and profile",
    steps: [
      {
        body: {
          action: "auth:signup",
          auth_data: { username: "john.doe2" },
          password: "secret",
          profile: { username: "iamyourfather" },
        },
      },
    ],
  },
  {
    name: "auth_test.go: SignupHandler sign up duplicate auth data",
    steps: [
      { body: { action: "auth:signup", auth_data: { username: "dup.doe" }, password: "secret" } },
      { body: { action: "auth:signup", auth_data: { username: "dup.doe" }, password: "secret" } },
    ],
  },
  {
    name: "auth_test.go: SignupHandler signs up anonymously",
    steps: [{ body: { action: "auth:signup" } }],
  },
  {
    name: "auth_test.go: SignupHandler errors when both usename and email is missing",
    steps: [{ body: { action: "auth:signup", password: "iamyourfather" } }],
  },
  {
    name: "auth_test.go: SignupHandler errors when password is missing",
    steps: [
      { body: { action: "auth:signup", auth_data: { username: "john.doe", email: "john.doe@example.com" } } },
    ],
  },
  {
    name: "auth_test.go: LoginHandler login user",
    steps: [
      { body: { action: "auth:signup", auth_data: { username: "login.doe" }, password: "secret" } },
      { body: { action: "auth:login", auth_data: { username: "login.doe" }, password: "secret" } },
    ],
  },
  {
    name: "auth_test.go: LoginHandler login with invalid auth data",
    steps: [{ body: { action: "auth:login", auth_data: { iamyourfather: "john.doe" }, password: "secret" } }],
  },
  {
    name: "auth_test.go: LoginHandler login user wrong password",
    steps: [{ body: { action: "auth:login", auth_data: { username: "alice" }, password: "wrongsecret" } }],
  },
  {
    name: "auth_test.go: LoginHandler login user not found",
    steps: [{ body: { action: "auth:login", auth_data: { username: "nobody.doe" }, password: "secret" } }],
  },
  {
    name: "auth_test.go: LoginHandler login in non-existent provider",
    steps: [
      {
        body: { action: "auth:login", provider: "com.non-existent", provider_auth_data: { name: "johndoe" } },
      },
    ],
  },
  {
    name: "auth_test.go: SignupHandler signs up with non-existent provider",
    steps: [
      {
        body: {
          action: "auth:signup",
          provider: "com.non-existent",
          provider_auth_data: { name: "johndoe" },
        },
      },
    ],
  },
  {
    name: "auth_test.go: LogoutHandler deletes existing access token",
    steps: [
      { body: { action: "auth:signup", auth_data: { username: "logout.doe" }, password: "secret" } },
      { body: { action: "auth:logout" }, as: "carol" },
    ],
  },
  {
    name: "auth_test.go: LogoutHandler deletes non-existing access token",
    steps: [{ body: { action: "auth:logout", access_token: "notexistaccesstoken" } }],
  },
  {
    name: "auth_test.go: an expired or unknown access token",
    steps: [{ body: { action: "me", access_token: "someaccesstoken" } }],
  },
  // --- me_test.go
  {
    name: "me_test.go: Get me with user info",
    steps: [{ body: { action: "me" }, as: "alice" }],
  },
  {
    name: "me_test.go: Get me without user info",
    steps: [{ body: { action: "me" } }],
  },
  {
    name: "record_test.go: include of _owner carries last_login_at",
    steps: [
      save([{ _id: "u1note/1" }], "bob"),
      query({ record_type: "u1note", include: { o: kp("_owner") } }, "bob"),
    ],
  },
  // --- schema_test.go
  {
    name: "schema_test.go: SchemaCreateHandler create normal field / SchemaFetchHandler fetch schemas",
    steps: [
      master({
        action: "schema:create",
        record_types: {
          sc1note: {
            fields: [
              { name: "field1", type: "string" },
              { name: "field2", type: "number" },
            ],
          },
        },
      }),
      master({ action: "schema:fetch" }),
    ],
  },
  {
    name: "schema_test.go: SchemaCreateHandler create reserved field",
    steps: [
      master({
        action: "schema:create",
        record_types: { sc2note: { fields: [{ name: "_field1", type: "string" }] } },
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaCreatePayload reserved type",
    steps: [
      master({
        action: "schema:create",
        record_types: { _sc3note: { fields: [{ name: "field1", type: "string" }] } },
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaCreatePayload unsupported type",
    steps: [
      master({
        action: "schema:create",
        record_types: { sc4note: { fields: [{ name: "field1", type: "unknown_type" }] } },
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaCreateHandler create existing field with / without conflict",
    steps: [
      master({
        action: "schema:create",
        record_types: { sc5note: { fields: [{ name: "field1", type: "string" }] } },
      }),
      master({
        action: "schema:create",
        record_types: { sc5note: { fields: [{ name: "field1", type: "number" }] } },
      }),
      master({
        action: "schema:create",
        record_types: { sc5note: { fields: [{ name: "field1", type: "string" }] } },
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaCreateHandler needs the master key",
    steps: [{ body: { action: "schema:create", record_types: { sc6note: { fields: [] } } }, as: "alice" }],
  },
  {
    name: "schema_test.go: SchemaRenameHandler rename normal field / rename to existing field",
    steps: [
      master({
        action: "schema:create",
        record_types: {
          sr1note: {
            fields: [
              { name: "field1", type: "string" },
              { name: "field3", type: "string" },
            ],
          },
        },
      }),
      master({
        action: "schema:rename",
        record_type: "sr1note",
        item_type: "field",
        item_name: "field1",
        new_name: "field2",
      }),
      master({
        action: "schema:rename",
        record_type: "sr1note",
        item_type: "field",
        item_name: "field2",
        new_name: "field3",
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaRenameHandler rename reserved / nonexisting field",
    steps: [
      master({
        action: "schema:create",
        record_types: { sr2note: { fields: [{ name: "field1", type: "string" }] } },
      }),
      master({
        action: "schema:rename",
        record_type: "sr2note",
        item_type: "field",
        item_name: "_id",
        new_name: "field2",
      }),
      master({
        action: "schema:rename",
        record_type: "sr2note",
        item_type: "field",
        item_name: "field1",
        new_name: "_field2",
      }),
      master({
        action: "schema:rename",
        record_type: "sr2note",
        item_type: "field",
        item_name: "nofield",
        new_name: "field2",
      }),
      master({
        action: "schema:rename",
        record_type: "_sr2",
        item_type: "field",
        item_name: "field1",
        new_name: "field2",
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaDeleteHandler delete normal / reserved / nonexisting field",
    steps: [
      master({
        action: "schema:create",
        record_types: { sd1note: { fields: [{ name: "field1", type: "string" }] } },
      }),
      master({ action: "schema:delete", record_type: "sd1note", item_type: "field", item_name: "field1" }),
      master({ action: "schema:delete", record_type: "sd1note", item_type: "field", item_name: "_id" }),
      master({ action: "schema:delete", record_type: "sd1note", item_type: "field", item_name: "nofield" }),
      master({ action: "schema:delete", record_type: "_sd1", item_type: "field", item_name: "field1" }),
    ],
  },
  {
    name: "schema_test.go: TestSchemaAccessHandler / SchemaAccessPayload",
    steps: [
      master({ action: "schema:access", type: "sa1script", create_roles: ["admin", "writer"] }),
      master({ action: "schema:access", type: "sa1script" }),
      master({ action: "schema:access", create_roles: ["admin"] }),
      master({ action: "schema:access", type: "sa1script", create_roles: "admin" }),
    ],
  },
  // schema_test.go: TestSchemaDefaultAccessHandler is not replayed: v1.7.3 answers every schema:default_access
  // with a 500 on Postgres 10 and later (its UPDATE of a single column in parentheses); see the README.
  {
    name: "schema_test.go: SchemaFieldAccessGetHandler should return empty array for no Field ACL settings",
    steps: [master({ action: "schema:field_access:get" })],
  },
  // --- more request/response pairs of the same handler tests, each on its own record types
  {
    name: "record_test.go: RecordSaveHandler a field saved with a conflicting type",
    steps: [
      save([{ _id: "x1gauge/1", level: 3 }], "alice"),
      save([{ _id: "x1gauge/2", level: "high" }], "alice"),
    ],
  },
  {
    name: "record_test.go: RecordFetchHandler fetches the caller's user record",
    steps: [fetch(["user/{{alice}}"], "alice")],
  },
  {
    name: "record_test.go: RecordFetchHandler expected list of id",
    steps: [fetch([], "alice")],
  },
  {
    name: "record_test.go: RecordDeleteHandler invalid id format",
    steps: [del(["nokey"], "alice")],
  },
  {
    name: "record_test.go: RecordSaveHandler expected list of record",
    steps: [{ body: { action: "record:save", database_id: "_public" }, as: "alice" }],
  },
  {
    name: "query_test.go: recordType cannot be empty",
    steps: [query({ record_type: "" })],
  },
  {
    name: "query_test.go: predicate must be an array",
    steps: [query({ record_type: "x2note", predicate: "eq" })],
  },
  {
    name: "query_test.go: unexpected value in desired_keys",
    steps: [save([{ _id: "x3note/1", a: 1 }], "alice"), query({ record_type: "x3note", desired_keys: [1] })],
  },
  {
    name: "record_test.go: Queries records by _owner",
    steps: [
      save([{ _id: "x4note/1" }], "alice"),
      save([{ _id: "x4note/2" }], "bob"),
      query({ record_type: "x4note", predicate: ["eq", kp("_owner"), "{{bob}}"] }),
    ],
  },
  {
    name: "query_test.go: like, ilike, in and not",
    steps: [
      save(
        [
          { _id: "x5note/1", t: "Hello" },
          { _id: "x5note/2", t: "world" },
          { _id: "x5note/3", t: "help" },
        ],
        "alice",
      ),
      query({ record_type: "x5note", predicate: ["like", kp("t"), "hel%"], sort: [[kp("t"), "asc"]] }),
      query({ record_type: "x5note", predicate: ["ilike", kp("t"), "hel%"], sort: [[kp("t"), "asc"]] }),
      query({
        record_type: "x5note",
        predicate: ["in", kp("t"), ["world", "help"]],
        sort: [[kp("t"), "asc"]],
      }),
      query({
        record_type: "x5note",
        predicate: ["not", ["eq", kp("t"), "world"]],
        sort: [[kp("t"), "asc"]],
      }),
    ],
  },
  {
    name: "auth_test.go: LoginHandler login with empty auth data",
    steps: [{ body: { action: "auth:login", auth_data: {}, password: "secret" } }],
  },
  {
    name: "auth_test.go: LogoutHandler the token no longer works",
    steps: [
      { body: { action: "auth:signup", auth_data: { username: "gone.doe" }, password: "secret" } },
      { body: { action: "record:query", record_type: "x6note", access_token: "revoked-later" } },
    ],
  },
  {
    name: "me_test.go: Get me as the master key acting as a user",
    steps: [{ body: { action: "me" }, actAs: "bob" }],
  },
  {
    name: "record_test.go: RecordSaveHandler as the master key acting as a user",
    steps: [
      save([{ _id: "x7note/1", v: 1 }], undefined, {}),
      { ...save([{ _id: "x7note/2", v: 2 }]), actAs: "bob" },
    ],
  },
  {
    name: "record_test.go: public read ACL: another user may read but not write",
    steps: [
      save([{ _id: "x8note/1", v: 1, _access: [{ level: "read", public: true }] }], "alice"),
      fetch(["x8note/1"], "bob"),
      save([{ _id: "x8note/1", v: 2 }], "bob"),
      del(["x8note/1"], "bob"),
    ],
  },
  {
    name: "schema_test.go: SchemaCreateHandler reference and date fields",
    steps: [
      save([{ _id: "x9person/1" }], "alice"),
      master({
        action: "schema:create",
        record_types: {
          x9note: {
            fields: [
              { name: "when", type: "datetime" },
              { name: "where", type: "location" },
              { name: "owner", type: "ref(x9person)" },
            ],
          },
        },
      }),
    ],
  },
  {
    name: "schema_test.go: SchemaRenameHandler rename in a missing table",
    steps: [
      master({
        action: "schema:rename",
        record_type: "x10none",
        item_type: "field",
        item_name: "a",
        new_name: "b",
      }),
      master({ action: "schema:rename", record_type: "x10none", item_type: "field" }),
    ],
  },
  {
    name: "schema_test.go: SchemaDeleteHandler then saving the deleted field again",
    steps: [
      save([{ _id: "x11note/1", gone: "x" }], "alice"),
      master({ action: "schema:delete", record_type: "x11note", item_type: "field", item_name: "gone" }),
      save([{ _id: "x11note/2", gone: 5 }], "alice"),
      fetch(["x11note/1", "x11note/2"]),
    ],
  },
  {
    name: "auth_test.go: ChangePasswordHandler change password success / wrong old password / empty",
    steps: [
      {
        body: { action: "auth:signup", auth_data: { username: "pw.doe" }, password: "chima" },
        remember: "pw",
      },
      { body: { action: "auth:password", old_password: "wrong", password: "faseng" }, as: "pw" },
      { body: { action: "auth:password", password: "faseng" }, as: "pw" },
      { body: { action: "auth:password", old_password: "x" }, as: "pw" },
      {
        body: { action: "auth:password", old_password: "chima", password: "faseng" },
        as: "pw",
        remember: "pw2",
      },
      // The token the change answered works. (Whether the old one does depends on time: v1 keeps tokens issued
      // up to a second before the change; test/server/auth.test.ts waits that out.)
      { body: { action: "me" }, as: "pw2" },
      { body: { action: "auth:password", old_password: "x", password: "y" } },
    ],
  },
  {
    name: "auth_test.go: ChangePasswordHandler the new password logs in, the old one not, old tokens refused",
    steps: [
      { body: { action: "auth:login", auth_data: { username: "pw.doe" }, password: "chima" } },
      { body: { action: "auth:login", auth_data: { username: "pw.doe" }, password: "faseng" } },
    ],
  },
  {
    name: "auth_test.go: ResetPasswordHandler reset password success / errors",
    steps: [
      master({ action: "auth:reset_password", auth_id: "{{bob}}", password: "new_password" }),
      { body: { action: "auth:login", auth_data: { username: "bob" }, password: "new_password" } },
      { body: { action: "auth:login", auth_data: { username: "bob" }, password: "pw-bob" } },
      master({ action: "auth:reset_password", password: "x" }),
      master({ action: "auth:reset_password", auth_id: "{{bob}}" }),
      master({ action: "auth:reset_password", auth_id: "nobody", password: "x" }),
      { body: { action: "auth:reset_password", auth_id: "{{bob}}", password: "x" }, as: "alice" },
    ],
  },
];
