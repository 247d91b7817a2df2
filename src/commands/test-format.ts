// The format of a workflow test file (`<workflow>.test.yaml` beside the workflows): YAML -> typed tests, every
// mistake reported as `file:line:column: path: message` and every expectation carrying its own position.
// A hand-written schema check, because the messages name the fix. No I/O. Past 400 lines: the types and the
// checker of each part of the format read best side by side.
import type { RawProblem } from "../engine/definition/check-schema.js";
import { checkWhere } from "../engine/definition/where.js";
import { parseYaml } from "../engine/definition/yaml.js";
import type { Problem } from "../errors.js";

export interface Pos {
  line: number;
  column: number;
}

/** A value the test expects, with where it was written. */
export interface Expected<T = unknown> {
  value: T;
  pos: Pos;
  /** Its path in the file, to locate a mismatch inside it. */
  path: string;
}

export interface SeedUser {
  id: string;
  username?: string;
  email?: string;
}

export interface SeedRecord {
  as?: string;
  database: "_public" | "_private";
  record: Record<string, unknown>;
}

export type EventSpec =
  | {
      kind: "record";
      op: "create" | "update" | "delete";
      as?: string;
      database: "_public" | "_private";
      record: Record<string, unknown>;
    }
  | { kind: "pubsub"; channel?: string; data: unknown }
  | { kind: "cron" }
  | { kind: "call"; input: unknown }
  | { kind: "run"; event: Record<string, unknown> }
  /** Read before the tests run (see parseEventFile): a JSON or YAML file holding one of the forms above. */
  | { kind: "file"; path: string };

export interface StepExpect {
  key: string;
  pos: Pos;
  status?: Expected<string>;
  output?: Expected;
  error?: Expected;
  attempts?: Expected<number>;
}

export interface RecordsExpect {
  pos: Pos;
  type: string;
  database: "_public" | "_private";
  as: string;
  where?: unknown;
  count?: Expected<number>;
  records?: Expected<unknown[]>;
}

export interface SqlExpect {
  pos: Pos;
  statement: string;
  params: unknown[];
  rows: Expected<unknown[]>;
}

export interface Expectations {
  pos: Pos;
  /** `none`: no run was started (a `when` that did not match). */
  run?: Expected<string>;
  runs?: Expected<number>;
  steps: StepExpect[];
  output?: Expected;
  error?: Expected;
  records: RecordsExpect[];
  pushes?: Expected<unknown[]>;
  published?: Expected<unknown[]>;
  sql: SqlExpect[];
}

export type Action =
  | { kind: "advance"; ms: number; pos: Pos }
  | { kind: "event"; event: EventSpec; pos: Pos }
  | { kind: "expect"; expect: Expectations; pos: Pos };

export interface TestCase {
  name: string;
  pos: Pos;
  /**
   * Start of the fake clock (ms since the epoch); undefined: the database's time when the test begins (parked
   * runs' sleeps are measured by the database's clock, so they agree with it from there).
   */
  clock?: number;
  users: SeedUser[];
  records: SeedRecord[];
  /** event (if any), then each `then` action, then `expect` (if any). */
  actions: Action[];
}

export interface TestFile {
  file: string;
  workflow: string;
  tests: TestCase[];
  /** The position of a path of the file (`tests[0].expect.steps.review`), or of its nearest parent. */
  at(path: string): Pos;
}

const RUN_STATUSES = [
  "succeeded",
  "failed",
  "cancelled",
  "running",
  "sleeping",
  "waiting",
  "pending",
  "none",
];
/** `waiting`: between two tries; `none`: the step never began. */
const STEP_STATUSES = ["succeeded", "failed", "skipped", "running", "waiting", "none"];

/** `250ms`, `10s`, `5m`, `1h`, `2d`, joined (`1h30m`), or a number of milliseconds; else undefined. */
export function testDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string" || !/^(\d+(ms|s|m|h|d))+$/.test(v.trim())) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let ms = 0;
  for (const m of v.trim().matchAll(/(\d+)(ms|s|m|h|d)/g))
    ms += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return ms;
}

/** `review-task.test.yaml` -> `review-task`; undefined for a file that is not a test file. */
export function workflowOfTestFile(base: string): string | undefined {
  const m = /^(.+)\.test\.ya?ml$/.exec(base);
  return m?.[1];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
/** `path` extended by a key or an index, as parseYaml writes paths. */
export const kp = (path: string, key: string | number) =>
  typeof key === "number"
    ? `${path}[${key}]`
    : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)
      ? path
        ? `${path}.${key}`
        : key
      : `${path}[${JSON.stringify(key)}]`;

/** An event file (`event: { file: x.json }`): JSON or YAML holding what `event:` holds, checked alike. */
export function parseEventFile(file: string, text: string): { event?: EventSpec; problems: Problem[] } {
  const parsed = parseYaml(file, text);
  if (parsed.problems.length > 0) return { problems: parsed.problems };
  const problems: Problem[] = [];
  const event = new Checker(file, parsed.at, problems).event(parsed.value, "");
  if (event?.kind === "file")
    return {
      problems: [{ file, line: 1, column: 1, path: "", message: "an event file cannot name another file" }],
    };
  return problems.length > 0 || !event ? { problems } : { event, problems };
}

/** Parses and checks a test file's text; `tests` is empty whenever there are problems. */
export function parseTestFile(
  file: string,
  text: string,
  base: string,
): { file?: TestFile; problems: Problem[] } {
  const parsed = parseYaml(file, text);
  if (parsed.problems.length > 0) return { problems: parsed.problems };
  const problems: Problem[] = [];
  const c = new Checker(file, parsed.at, problems);
  const root = parsed.value;
  if (!isObj(root)) {
    c.fail("", "a test file is a mapping with `tests:` (and optionally `workflow:` and `clock:`)");
    return { problems };
  }
  c.keys(root, "", ["workflow", "clock", "tests"]);
  const workflow = root.workflow === undefined ? workflowOfTestFile(base) : c.str(root.workflow, "workflow");
  if (workflow === undefined && root.workflow === undefined)
    c.fail("", "name the workflow under test with `workflow:` (or name the file <workflow>.test.yaml)");
  const clock = root.clock === undefined ? undefined : c.time(root.clock, "clock");
  const tests: TestCase[] = [];
  if (!Array.isArray(root.tests) || root.tests.length === 0) {
    c.fail(root.tests === undefined ? "" : "tests", "`tests:` must be a list of at least one test");
  } else {
    const names = new Set<string>();
    root.tests.forEach((t, i) => {
      const tc = c.testCase(t, `tests[${i}]`, clock);
      if (!tc) return;
      if (names.has(tc.name)) c.fail(kp(`tests[${i}]`, "name"), `another test is also named "${tc.name}"`);
      names.add(tc.name);
      tests.push(tc);
    });
  }
  if (problems.length > 0 || workflow === undefined) return { problems };
  return { file: { file, workflow, tests, at: (p) => parsed.at(p) }, problems };
}

class Checker {
  constructor(
    private readonly file: string,
    private readonly locate: (path: string, key?: boolean) => Pos,
    private readonly problems: Problem[],
  ) {}

  pos(path: string, key = false): Pos {
    return this.locate(path, key);
  }

  fail(path: string, message: string, key = false): undefined {
    this.problems.push({ file: this.file, ...this.locate(path, key), path, message });
    return undefined;
  }

  keys(o: Obj, path: string, allowed: string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k))
        this.fail(kp(path, k), `unknown key "${k}"; expected one of ${allowed.join(", ")}`, true);
    }
  }

  str(v: unknown, path: string): string | undefined {
    if (typeof v === "string" && v !== "") return v;
    return this.fail(path, `expected a non-empty string, got ${JSON.stringify(v)}`);
  }

  oneOf<T extends string>(v: unknown, path: string, choices: readonly T[]): T | undefined {
    if (typeof v === "string" && (choices as readonly string[]).includes(v)) return v as T;
    return this.fail(path, `expected one of ${choices.join(", ")}, got ${JSON.stringify(v)}`);
  }

  count(v: unknown, path: string): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
    return this.fail(path, `expected a whole number of zero or more, got ${JSON.stringify(v)}`);
  }

  time(v: unknown, path: string): number | undefined {
    const t = typeof v === "string" ? Date.parse(v) : Number.NaN;
    if (!Number.isNaN(t)) return t;
    return this.fail(path, `expected an ISO time such as "2026-01-01T09:00:00Z", got ${JSON.stringify(v)}`);
  }

  list(v: unknown, path: string): unknown[] | undefined {
    if (Array.isArray(v)) return v;
    return this.fail(path, `expected a list, got ${JSON.stringify(v)}`);
  }

  map(v: unknown, path: string, what: string): Obj | undefined {
    if (isObj(v)) return v;
    return this.fail(path, `${what}: expected a mapping, got ${JSON.stringify(v)}`);
  }

  expected<T>(o: Obj, key: string, path: string, check?: (v: unknown, p: string) => T | undefined) {
    if (!(key in o)) return undefined;
    const p = kp(path, key);
    const value = check ? check(o[key], p) : (o[key] as T);
    return value === undefined && check ? undefined : { value: value as T, pos: this.pos(p), path: p };
  }

  testCase(t: unknown, path: string, fileClock: number | undefined): TestCase | undefined {
    const o = this.map(t, path, "a test");
    if (!o) return undefined;
    this.keys(o, path, ["name", "clock", "users", "records", "event", "then", "expect"]);
    const name = this.str(o.name, kp(path, "name"));
    const clock = o.clock === undefined ? fileClock : this.time(o.clock, kp(path, "clock"));
    if (o.clock !== undefined && clock === undefined) return undefined;
    const users = o.users === undefined ? [] : this.users(o.users, kp(path, "users"));
    const records = o.records === undefined ? [] : this.seedRecords(o.records, kp(path, "records"));
    const actions: Action[] = [];
    if (o.event !== undefined) {
      const event = this.event(o.event, kp(path, "event"));
      if (event) actions.push({ kind: "event", event, pos: this.pos(kp(path, "event")) });
    }
    if (o.then !== undefined) {
      const list = this.list(o.then, kp(path, "then")) ?? [];
      list.forEach((a, i) => {
        const act = this.action(a, `${kp(path, "then")}[${i}]`);
        if (act) actions.push(act);
      });
    }
    if (o.expect !== undefined) {
      const expect = this.expectations(o.expect, kp(path, "expect"));
      if (expect) actions.push({ kind: "expect", expect, pos: expect.pos });
    }
    if (!actions.some((a) => a.kind === "expect"))
      this.fail(path, "a test needs `expect:` (or an `expect` among its `then:` actions)");
    if (!name || !users || !records) return undefined;
    return { name, pos: this.pos(path), ...(clock !== undefined && { clock }), users, records, actions };
  }

  action(a: unknown, path: string): Action | undefined {
    const o = this.map(a, path, "an action");
    if (!o) return undefined;
    const keys = Object.keys(o);
    if (keys.length !== 1 || !["advance", "event", "expect"].includes(keys[0]!))
      return this.fail(path, "an action is exactly one of advance: <duration>, event: {...}, expect: {...}");
    const p = kp(path, keys[0]!);
    if ("advance" in o) {
      const ms = testDuration(o.advance);
      if (ms === undefined)
        return this.fail(
          p,
          `expected a duration such as 250ms, 10s, 5m, 1h, 2d or 1h30m, got ${JSON.stringify(o.advance)}`,
        );
      return { kind: "advance", ms, pos: this.pos(p) };
    }
    if ("event" in o) {
      const event = this.event(o.event, p);
      return event && { kind: "event", event, pos: this.pos(p) };
    }
    const expect = this.expectations(o.expect, p);
    return expect && { kind: "expect", expect, pos: expect.pos };
  }

  users(v: unknown, path: string): SeedUser[] | undefined {
    const out: SeedUser[] = [];
    for (const [i, u] of (this.list(v, path) ?? []).entries()) {
      const p = `${path}[${i}]`;
      const o = typeof u === "string" ? { id: u } : this.map(u, p, "a user");
      if (!o) continue;
      this.keys(o, p, ["id", "username", "email"]);
      const id = this.str(o.id, kp(p, "id"));
      if (id?.startsWith("user/")) this.fail(kp(p, "id"), "give the id without the user/ prefix");
      const username = o.username === undefined ? undefined : this.str(o.username, kp(p, "username"));
      const email = o.email === undefined ? undefined : this.str(o.email, kp(p, "email"));
      if (id) out.push({ id, ...(username && { username }), ...(email && { email }) });
    }
    return out;
  }

  seedRecords(v: unknown, path: string): SeedRecord[] | undefined {
    const out: SeedRecord[] = [];
    for (const [i, r] of (this.list(v, path) ?? []).entries()) {
      const p = `${path}[${i}]`;
      const o = this.map(r, p, "a record to seed");
      if (!o) continue;
      this.keys(o, p, ["as", "database", "record"]);
      const record = this.recordBody(o.record, kp(p, "record"));
      const as = o.as === undefined ? undefined : this.str(o.as, kp(p, "as"));
      const database = this.database(o.database, kp(p, "database"));
      if (record && database) out.push({ record, database, ...(as && { as }) });
    }
    return out;
  }

  database(v: unknown, path: string) {
    return v === undefined ? "_public" : this.oneOf(v, path, ["_public", "_private"] as const);
  }

  recordBody(v: unknown, path: string): Obj | undefined {
    const o = this.map(v, path, "record");
    if (!o) return undefined;
    if (typeof o._id !== "string" || !/^[^/]+\/[^/]+$/.test(o._id))
      return this.fail(o._id === undefined ? path : kp(path, "_id"), 'a record needs `_id: "<type>/<key>"`');
    return o;
  }

  event(v: unknown, path: string): EventSpec | undefined {
    const o = this.map(v, path, "event");
    if (!o) return undefined;
    const kinds = ["record", "pubsub", "cron", "call", "run", "file"];
    const keys = Object.keys(o);
    if (keys.length !== 1 || !kinds.includes(keys[0]!))
      return this.fail(path, `an event is exactly one of ${kinds.map((k) => `${k}:`).join(", ")}`);
    const kind = keys[0]!;
    const p = kp(path, kind);
    const body = o[kind] ?? {};
    if (kind === "file") {
      const file = this.str(body, p);
      return file === undefined ? undefined : { kind, path: file };
    }
    if (kind === "cron")
      return isObj(body) && Object.keys(body).length === 0
        ? { kind }
        : this.fail(p, "cron takes no fields: `cron: {}`");
    const b = this.map(body, p, kind);
    if (!b) return undefined;
    if (kind === "record") {
      this.keys(b, p, ["op", "as", "database", "record"]);
      const op = this.oneOf(b.op ?? "create", kp(p, "op"), ["create", "update", "delete"] as const);
      const record = this.recordBody(b.record, kp(p, "record"));
      const as = b.as === undefined ? undefined : this.str(b.as, kp(p, "as"));
      const database = this.database(b.database, kp(p, "database"));
      return op && record && database ? { kind, op, record, database, ...(as && { as }) } : undefined;
    }
    if (kind === "pubsub") {
      this.keys(b, p, ["channel", "data"]);
      const channel = b.channel === undefined ? undefined : this.str(b.channel, kp(p, "channel"));
      return { kind, data: b.data ?? {}, ...(channel && { channel }) };
    }
    if (kind === "call") {
      this.keys(b, p, ["input"]);
      return { kind, input: b.input ?? {} };
    }
    return { kind: "run", event: b };
  }

  expectations(v: unknown, path: string): Expectations | undefined {
    const o = this.map(v, path, "expect");
    if (!o) return undefined;
    this.keys(o, path, ["run", "runs", "steps", "output", "error", "records", "pushes", "published", "sql"]);
    const listOf = (key: string) => this.expected(o, key, path, (x, p) => this.list(x, p));
    const e: Expectations = {
      pos: this.pos(path),
      run: this.expected(o, "run", path, (x, p) => this.oneOf(x, p, RUN_STATUSES)),
      runs: this.expected(o, "runs", path, (x, p) => this.count(x, p)),
      steps: o.steps === undefined ? [] : this.steps(o.steps, kp(path, "steps")),
      output: this.expected(o, "output", path),
      error: this.expected(o, "error", path),
      records: o.records === undefined ? [] : this.recordExpects(o.records, kp(path, "records")),
      pushes: listOf("pushes"),
      published: listOf("published"),
      sql: o.sql === undefined ? [] : this.sqlExpects(o.sql, kp(path, "sql")),
    };
    return e;
  }

  steps(v: unknown, path: string): StepExpect[] {
    const o = this.map(v, path, "steps");
    if (!o) return [];
    const out: StepExpect[] = [];
    for (const [key, raw] of Object.entries(o)) {
      const p = kp(path, key);
      const status = (x: unknown, q: string) => this.oneOf(x, q, STEP_STATUSES);
      if (typeof raw === "string") {
        const s = status(raw, p);
        if (s) out.push({ key, pos: this.pos(p, true), status: { value: s, pos: this.pos(p), path: p } });
        continue;
      }
      const s = this.map(raw, p, `step ${key}`);
      if (!s) continue;
      this.keys(s, p, ["status", "output", "error", "attempts"]);
      out.push({
        key,
        pos: this.pos(p, true),
        status: this.expected(s, "status", p, status),
        output: this.expected(s, "output", p),
        error: this.expected(s, "error", p),
        attempts: this.expected(s, "attempts", p, (x, q) => this.count(x, q)),
      });
    }
    return out;
  }

  recordExpects(v: unknown, path: string): RecordsExpect[] {
    const out: RecordsExpect[] = [];
    for (const [i, r] of (this.list(v, path) ?? []).entries()) {
      const p = `${path}[${i}]`;
      const o = this.map(r, p, "a records expectation");
      if (!o) continue;
      this.keys(o, p, ["type", "database", "as", "where", "count", "records"]);
      const type = this.str(o.type, kp(p, "type"));
      const database = this.database(o.database, kp(p, "database"));
      const as = o.as === undefined ? "master" : this.str(o.as, kp(p, "as"));
      // As a query step's `where` is checked when its workflow loads.
      const problems: RawProblem[] = [];
      checkWhere(o.where, kp(p, "where"), problems);
      for (const w of problems) this.fail(w.path, w.message);
      if (o.count === undefined && o.records === undefined)
        this.fail(p, "say what to expect: `count:` or `records:` (or both)");
      const count = this.expected(o, "count", p, (x, q) => this.count(x, q));
      const records = this.expected(o, "records", p, (x, q) => this.list(x, q));
      if (type && database && as)
        out.push({ pos: this.pos(p), type, database, as, where: o.where, count, records });
    }
    return out;
  }

  sqlExpects(v: unknown, path: string): SqlExpect[] {
    const out: SqlExpect[] = [];
    for (const [i, r] of (this.list(v, path) ?? []).entries()) {
      const p = `${path}[${i}]`;
      const o = this.map(r, p, "an sql expectation");
      if (!o) continue;
      this.keys(o, p, ["statement", "params", "rows"]);
      const statement = this.str(o.statement, kp(p, "statement"));
      const params = o.params === undefined ? [] : this.list(o.params, kp(p, "params"));
      const rows = this.expected(o, "rows", p, (x, q) => this.list(x, q));
      if (!rows) this.fail(p, "`rows:` is required: the rows the statement should return");
      if (statement && params && rows) out.push({ pos: this.pos(p), statement, params, rows });
    }
    return out;
  }
}
