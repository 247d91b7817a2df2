// Record field names that collide with our own SQL (issue 20, point 1): names drawn from every identifier our
// statements use, every Postgres keyword, and random ones, through save, query (predicates and sorts), fetch,
// include, delete and the record trigger's outbox. One such field once broke its record type for everyone.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validFieldName } from "../../../src/server/records/ids.js";
import { badText } from "../../../src/server/request-guard.js";
import type { AppContext } from "../../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { fuzzParams } from "../../helpers/fuzz.js";
import { call, kp, makeApp, master, query, type Rec, SCHEMA, save, user } from "./helpers.js";

let db: TestDatabase;
let app: AppContext;
const alice = user("alice");
const bob = user("bob");

/** Every alias, CTE, output column, variable and function name in src/server/records and the trigger SQL. */
const OURS = [
  "t",
  "x",
  "r",
  "c",
  "n",
  "j0",
  "j1",
  "cur",
  "dflt",
  "creators",
  "owner",
  "access",
  "default_access",
  "record_type",
  "role_id",
  "to_jsonb",
  "jsonb_exists",
  "now",
  "count",
  "new_row",
  "old_row",
  "tx",
  "new",
  "old",
  "tg_op",
  "tg_table_name",
  "tg_table_schema",
  "txid",
  "op",
  "schema_name",
  "record_key",
  "database_id",
  "at",
  "seen",
  "obj",
  "j",
  "T",
  "R",
  "NEW",
  "OLD",
  "*",
  "t*",
  "a b",
  'q"uote',
  "semi;colon",
  "dollar$$",
];

let keywords: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase("rec_field_names");
  app = await makeApp(db.pool);
  const { rows } = await db.pool.query<{ word: string }>("SELECT word FROM pg_get_keywords() ORDER BY word");
  keywords = rows.map((r) => r.word);
  expect(keywords.length).toBeGreaterThan(400);
});
afterAll(async () => {
  await db.drop();
});

const value = (name: string, n: number) => `${n}:${name}`;
const ids = (recs: Rec[]) => recs.map((r) => r._id).sort();

/** Saves two records of `type` with every name as a field, then checks each action keeps them apart. */
async function roundTrip(type: string, names: string[]): Promise<void> {
  const rec = (n: number) => Object.fromEntries(names.map((name) => [name, value(name, n)]));
  const saved = await save(app, [{ _id: `${type}/one`, ...rec(1) }], alice);
  expect(saved[0]).toMatchObject({ _id: `${type}/one`, ...rec(1) });
  // A new record after the columns exist: the symptom was a false Duplicated (109).
  const second = await save(app, [{ _id: `${type}/two`, ...rec(2) }], bob);
  expect(second[0]).toMatchObject({ _id: `${type}/two`, _type: "record", ...rec(2) });

  const all = await query(app, { record_type: type }, alice);
  expect(ids(all)).toEqual([`${type}/one`, `${type}/two`]);
  for (const r of all) expect(r).toMatchObject(r._id === `${type}/one` ? rec(1) : rec(2));

  const everyEq = ["and", ...names.map((name) => ["eq", kp(name), value(name, 2)])];
  expect(ids(await query(app, { record_type: type, predicate: everyEq }, alice))).toEqual([`${type}/two`]);
  const everyLike = ["and", ...names.map((name) => ["like", kp(name), "1:%"])];
  expect(ids(await query(app, { record_type: type, predicate: everyLike }, alice))).toEqual([`${type}/one`]);
  for (const dir of ["asc", "desc"]) {
    const sorted = await query(app, { record_type: type, sort: names.map((n) => [kp(n), dir]) }, alice);
    const want = dir === "asc" ? [`${type}/one`, `${type}/two`] : [`${type}/two`, `${type}/one`];
    expect(sorted.map((r) => r._id)).toEqual(want);
  }

  const fetched = (await call(app, "record:fetch", { ids: [`${type}/one`] }, bob)).result as Rec[];
  expect(fetched[0]).toMatchObject({ _id: `${type}/one`, ...rec(1) });
  const updated = await save(app, [{ _id: `${type}/one`, [names[0]!]: "changed" }], alice);
  expect(updated[0]).toMatchObject({ _id: `${type}/one`, [names[0]!]: "changed" });
  const deleted = (await call(app, "record:delete", { ids: [`${type}/two`] }, bob)).result as Rec[];
  expect(deleted).toEqual([{ _id: `${type}/two`, _type: "record" }]);
  expect(ids(await query(app, { record_type: type }, alice))).toEqual([`${type}/one`]);
}

describe("field names that are our own identifiers or Postgres keywords", () => {
  it("our aliases, CTEs, columns, variables and functions, all on one record type", async () => {
    await roundTrip("ours", OURS);
  });

  it("every Postgres keyword, reserved or not, in lower and upper case", async () => {
    await roundTrip("kw_lower", keywords);
    await roundTrip(
      "kw_upper",
      keywords.map((k) => k.toUpperCase()),
    );
  });

  it("record types named as our aliases, joined through reference fields named as our aliases", async () => {
    for (const type of ["t", "x", "j0", "cur"]) {
      await save(app, [{ _id: `${type}/target`, t: `${type}-t`, x: `${type}-x`, j0: `${type}-j0` }], alice);
    }
    const refs = Object.fromEntries(
      ["t", "x", "j0", "cur"].map((f) => [f, { $type: "ref", $id: `${f}/target` }]),
    );
    await save(app, [{ _id: "r/one", ...refs, r: "r-value" }], alice);
    const predicate = [
      "and",
      ["eq", kp("t.t"), "t-t"],
      ["eq", kp("x.x"), "x-x"],
      ["eq", kp("j0.j0"), "j0-j0"],
      ["eq", kp("cur.t"), "cur-t"],
    ];
    const include = Object.fromEntries(["t", "x", "j0", "cur"].map((f) => [f, kp(f)]));
    const found = await query(
      app,
      { record_type: "r", predicate, include, sort: [[kp("t.x"), "asc"]] },
      alice,
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ _id: "r/one", r: "r-value" });
    const transient = found[0]!._transient as Record<string, Rec>;
    for (const f of ["t", "x", "j0", "cur"]) {
      expect(transient[f]).toMatchObject({ _id: `${f}/target`, t: `${f}-t`, x: `${f}-x` });
    }
  });
});

describe("the record trigger's outbox with such fields", () => {
  it("records the row with fields named as the trigger function's variables and our aliases", async () => {
    const names = [...OURS.slice(0, 40), "TG_OP", "cur", "new_row", "old_row"];
    await save(app, [{ _id: "watched/seed", [names[0]!]: "seed" }], master);
    await db.pool.query("SELECT skyflow.attach_record_trigger($1, 'watched')", [SCHEMA]);
    const fields = Object.fromEntries(names.map((n) => [n, value(n, 1)]));
    await save(app, [{ _id: "watched/w1", ...fields }], alice);
    const { rows } = await db.pool.query(
      "SELECT op, record_key, new_row FROM skyflow.record_outbox WHERE schema_name = $1 AND record_type = 'watched'",
      [SCHEMA],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ op: "insert", record_key: "w1", new_row: { _id: "w1", ...fields } });
  });

  it("replays a brand-new table's rows when it has a column named as the backfill's alias", async () => {
    await db.pool.query(
      "INSERT INTO skyflow.record_watch (schema_name, record_type, table_seen) VALUES ($1, 'late', false)",
      [SCHEMA],
    );
    await save(app, [{ _id: "late/a", r: "r-a", x: "x-a", j: "j-a" }], alice);
    const n = await db.pool.query("SELECT skyflow.attach_found_record_table($1, 'late') AS n", [SCHEMA]);
    expect(n.rows[0].n).toBe(1);
    const { rows } = await db.pool.query(
      "SELECT record_key, new_row FROM skyflow.record_outbox WHERE schema_name = $1 AND record_type = 'late'",
      [SCHEMA],
    );
    expect(rows).toEqual([
      { record_key: "a", new_row: expect.objectContaining({ _id: "a", r: "r-a", j: "j-a" }) },
    ]);
  });
});

describe("random field names", () => {
  /** Any name a client may use: not `_`-prefixed, no control characters, at most 63 bytes. */
  const fieldName = fc
    .string({ unit: "grapheme", minLength: 1, maxLength: 20 })
    .filter((s) => validFieldName(s) && !s.includes(".") && badText(s) === undefined);

  it("save, query, sort and fetch keep the value under any valid name", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fieldName, { minLength: 1, maxLength: 4 }), async (names) => {
        n++;
        const type = `rnd${n}`;
        const fields = Object.fromEntries(names.map((name, i) => [name, `v${i}`]));
        const [saved] = await save(app, [{ _id: `${type}/a`, ...fields }], alice);
        expect(saved).toMatchObject({ _id: `${type}/a`, ...fields });
        const [other] = await save(app, [{ _id: `${type}/b`, [names[0]!]: "zz" }], alice);
        expect(other).toMatchObject({ _id: `${type}/b`, _type: "record" });
        const predicate = ["and", ...names.map((name, i) => ["eq", kp(name), `v${i}`])];
        const found = await query(
          app,
          { record_type: type, predicate, sort: names.map((name) => [kp(name), "asc"]) },
          alice,
        );
        expect(found.map((r) => r._id)).toEqual([`${type}/a`]);
        expect(found[0]).toMatchObject(fields);
      }),
      fuzzParams(25),
    );
  });
});
