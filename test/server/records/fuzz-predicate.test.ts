// Property-based fuzzing of query translation (issue 20, point 5): arbitrary predicates, sorts, includes,
// paging and desired keys, grammar-shaped and not. Translation alone (pure): SQL or a Skygear error, never a
// value spliced into the text, never more placeholders than values. Through the whole action on real
// Postgres: an answer or a 4xx Skygear error (501 NotSupported where v1 has it), never a 500, never a hang.
// Fixed seed; FUZZ_RUNS=n for longer runs (README, Development).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SkygearServerError } from "../../../src/server/errors.js";
import { DEFAULT_LIMITS } from "../../../src/server/limits.js";
import { type PredicateContext, predicateSQL } from "../../../src/server/records/predicate.js";
import { checkPredicateSize } from "../../../src/server/records/query-limits.js";
import { sortSQL } from "../../../src/server/records/query-options.js";
import { Params } from "../../../src/server/records/sql.js";
import type { ColumnInfo } from "../../../src/server/records/types.js";
import type { AppContext, AuthInfo } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { fuzzParams, fuzzTimeout } from "../../helpers/fuzz.js";
import { anonymous, call, makeApp, master, save, user } from "./helpers.js";

const FIELDS = ["title", "n", "at", "meta", "flag", "draft", "draft.text", "draft.n", "draft.inner"];
const ODD = ["_id", "_owner", "_created_at", "_access", "nofield", "a.b.c", "", "t", "x.", ".x", 'ti"tle'];

const keypath = fc
  .oneof(fc.constantFrom(...FIELDS, ...ODD), fc.string())
  .map((v) => ({ $type: "keypath", $val: v }));
const typed = fc.oneof(
  fc
    .constantFrom("2020-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "soon", "2020-13-45T99:99:99Z")
    .map(($date) => ({
      $type: "date",
      $date,
    })),
  fc.constantFrom("secret/s1", "bad", "note/", "/x").map(($id) => ({ $type: "ref", $id })),
  fc.record({
    $type: fc.oneof(fc.string(), fc.constantFrom("geo", "seq", "unknown", "relation", "keypath")),
  }),
);
const literal = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  typed,
  fc.jsonValue({ maxDepth: 3 }),
);
const operand = fc.oneof(keypath, literal, fc.array(literal, { maxLength: 5 }));
const OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "func", "and", "or", "not", "xor"];

const predicate = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.tuple(fc.constantFrom(...OPS), operand, operand).map(([op, a, b]) => [op, a, b]),
    fc.tuple(fc.constantFrom(...OPS), fc.array(operand, { maxLength: 4 })).map(([op, rest]) => [op, ...rest]),
    fc
      .tuple(fc.constantFrom("and", "or", "not"), fc.array(tie("node"), { maxLength: 4 }))
      .map(([op, kids]) => [op, ...kids]),
    fc.jsonValue({ maxDepth: 2 }),
  ),
})).node;

/** Predicates that mostly make sense for the fields' types, so that fuzzed queries reach Postgres. */
const kpOf = (v: string) => ({ $type: "keypath", $val: v });
const wellTyped = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("title", "draft.text"),
      fc.string(),
      fc.constantFrom("eq", "neq", "gt", "like", "ilike"),
    )
    .map(([f, v, op]) => [op, kpOf(f), v]),
  fc
    .tuple(
      fc.constantFrom("n", "draft.n"),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom("eq", "lt", "gte"),
    )
    .map(([f, v, op]) => [op, kpOf(f), v]),
  fc
    .tuple(fc.constantFrom("title", "n"), fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 5 }))
    .map(([f, vs]) => ["in", kpOf(f), f === "n" ? vs.filter((v) => typeof v === "number") : vs.map(String)]),
  fc.string().map((v) => ["in", v, kpOf("meta")]),
  fc
    .date({ noInvalidDate: true, min: new Date("1900-01-01"), max: new Date("2100-01-01") })
    .map((d) => ["lt", kpOf("at"), { $type: "date", $date: d.toISOString() }]),
  fc.boolean().map((b) => ["eq", kpOf("flag"), b]),
  fc.constantFrom("secret/s1", "secret/s2").map((id) => ["eq", kpOf("draft"), { $type: "ref", $id: id }]),
  fc.constantFrom("title", "draft.text", "at", "draft").map((f) => ["eq", kpOf(f), null]),
);
const sensible: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    wellTyped,
    fc
      .tuple(fc.constantFrom("and", "or"), fc.array(tie("node"), { minLength: 1, maxLength: 3 }))
      .map(([op, k]) => [op, ...k]),
    tie("node").map((k) => ["not", k]),
  ),
})).node;
const sensibleSort = fc.array(
  fc.tuple(fc.constantFrom(...FIELDS, "_id", "_created_at").map(kpOf), fc.constantFrom("asc", "desc")),
  { maxLength: 3 },
);

const sort = fc.oneof(
  fc.array(fc.tuple(fc.oneof(keypath, literal), fc.constantFrom("asc", "desc", "up", 1)), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const columns = new Map<string, ColumnInfo>([
  ["title", { type: "string" }],
  ["n", { type: "number" }],
  ["at", { type: "date" }],
  ["meta", { type: "json" }],
  ["flag", { type: "boolean" }],
  ["draft", { type: "ref", refType: "secret" }],
]);
const secretColumns = new Map<string, ColumnInfo>([
  ["text", { type: "string" }],
  ["n", { type: "number" }],
  ["inner", { type: "ref", refType: "secret" }],
]);

function context(params: Params): PredicateContext {
  return {
    schema: "app_x",
    recordType: "note",
    columns,
    columnsOf: async (t) => (t === "secret" ? secretColumns : null),
    params,
    joins: new Map(),
    readable: (alias) => `${alias}._database_id = ''`,
  };
}

/** Every `$n` in `sql` has a value, and no text of the request was spliced in (no quote but ours). */
function expectBound(sql: string, params: Params): void {
  const used = [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
  for (const n of used) expect(n).toBeLessThanOrEqual(params.values.length);
  expect(sql.replaceAll("_database_id = ''", "").replaceAll("'UTC'", "")).not.toContain("'");
}

describe("predicate and sort translation (pure)", () => {
  it("gives bound SQL or a Skygear error for any predicate", async () => {
    await fc.assert(
      fc.asyncProperty(predicate, async (p) => {
        const params = new Params();
        try {
          checkPredicateSize(p, DEFAULT_LIMITS);
          expectBound(await predicateSQL(context(params), p), params);
        } catch (err) {
          if (!(err instanceof SkygearServerError)) throw err;
          expect(err.status === 501 || (err.status >= 400 && err.status < 500)).toBe(true);
        }
      }),
      fuzzParams(400),
    );
  });

  it("gives bound SQL or a Skygear error for any sort", async () => {
    await fc.assert(
      fc.asyncProperty(sort, async (s) => {
        const params = new Params();
        try {
          expectBound(await sortSQL(context(params), s), params);
        } catch (err) {
          if (!(err instanceof SkygearServerError)) throw err;
          expect(err.status === 501 || (err.status >= 400 && err.status < 500)).toBe(true);
        }
      }),
      fuzzParams(300),
    );
  });
});

describe("record:query end to end on Postgres", () => {
  let db: TestDatabase;
  let app: AppContext;
  beforeAll(async () => {
    db = await createTestDatabase("rec_fuzz_query");
    app = await makeApp(db.pool);
    await save(app, [{ _id: "secret/s1", text: "hunter2", n: 1, _access: [] }], user("bob"));
    await save(
      app,
      [{ _id: "secret/s2", text: "x", n: 2, inner: { $type: "ref", $id: "secret/s1" } }],
      user("bob"),
    );
    await save(
      app,
      [
        {
          _id: "note/a",
          title: "a",
          n: 1,
          at: { $type: "date", $date: "2020-01-01T00:00:00Z" },
          meta: { k: [1] },
          flag: true,
          draft: { $type: "ref", $id: "secret/s1" },
        },
      ],
      user("alice"),
    );
  });
  afterAll(async () => {
    await db?.drop();
  });

  const callers: AuthInfo[] = [master, user("alice"), anonymous];
  // Each part mostly well formed, sometimes not: a query fails at its first bad part, so junk everywhere
  // would never reach the database.
  const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
    fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: bad, weight: 1 });
  const payload = fc.record(
    {
      predicate: mostly(sensible, predicate),
      sort: mostly(sensibleSort, sort),
      include: mostly(
        fc.constantFrom({ d: kpOf("draft") }, { o: kpOf("_owner") }),
        fc.oneof(fc.dictionary(fc.string(), fc.oneof(keypath, literal), { maxKeys: 2 }), literal),
      ),
      limit: mostly(fc.nat(50), fc.oneof(fc.integer(), fc.double(), literal)),
      offset: mostly(fc.nat(3), literal),
      count: mostly(fc.boolean(), literal),
      desired_keys: mostly(
        fc.subarray(["title", "n", "meta"]),
        fc.oneof(fc.array(fc.constantFrom(...ODD)), literal),
      ),
      database_id: mostly(
        fc.constantFrom(undefined, "_public", "_private"),
        fc.constantFrom("_union", "bob", "_x", 5),
      ),
    },
    { requiredKeys: [] },
  );

  let answered = 0;
  it(
    "answers or refuses with a 4xx for any query",
    async () => {
      await fc.assert(
        fc.asyncProperty(payload, fc.constantFrom(0, 1, 2), async (p, who) => {
          try {
            const res = await call(app, "record:query", { record_type: "note", ...p }, callers[who]!);
            answered++;
            expect(Array.isArray(res.result)).toBe(true);
            // bob's owner-only secret: only the master key (caller 0) may see it
            if (who !== 0) expect(JSON.stringify(res.result)).not.toContain("hunter2");
          } catch (err) {
            if (!(err instanceof SkygearServerError)) throw err;
            expect(err.status === 501 || (err.status >= 400 && err.status < 500), err.message).toBe(true);
          }
        }),
        fuzzParams(150),
      );
      // The generators must reach the database, not only the parser's refusals.
      expect(answered).toBeGreaterThan(0);
      console.log(`record:query fuzz: ${answered} answered`);
    },
    fuzzTimeout(150, 200),
  );
});
