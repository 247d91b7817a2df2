// Static checks the schema cannot express: one kind per step, unique ids, cron and timezone, no expression
// in sql.statement, one of record/records and users/devices, the rules of foreach, parallel, sleep and wait_for. Defensive: runs even on a file that failed the
// schema, so that every problem of a file is reported at once. No I/O.
import { Cron } from "croner";
import type { RawProblem } from "./check-schema.js";
import { nearest } from "./nearest.js";
import { DURATION_UNITS, KIND_NAMES, Step } from "./schema.js";
import { hasExpression } from "./template.js";
import { checkWhere } from "./where.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

export function staticChecks(raw: Obj): RawProblem[] {
  const out: RawProblem[] = [];
  checkDurations(raw, out);
  for (const [i, t] of triggersOf(raw.on)) checkTrigger(t, Array.isArray(raw.on) ? `on[${i}]` : "on", out);
  // Ids are unique across the whole workflow, inner steps included: `steps.<id>` names one step.
  const ids = new Map<string, string>();
  for (const [path, s] of allSteps(raw)) checkStep(s, path, ids, out);
  return out;
}

/** Every step of the file, top-level and inner, with its YAML path, in file order. */
function allSteps(raw: Obj): [string, Obj][] {
  const out: [string, Obj][] = [];
  const visit = (list: unknown, at: string): void => {
    if (!Array.isArray(list)) return;
    list.forEach((s, i) => {
      const path = `${at}[${i}]`;
      if (!isObj(s)) return;
      out.push([path, s]);
      if ("foreach" in s) visit(s.steps, `${path}.steps`);
      if (isObj(s.parallel))
        for (const [b, l] of Object.entries(s.parallel)) visit(l, `${path}.parallel.${b}`);
    });
  };
  visit(raw.steps, "steps");
  visit(raw.on_failure, "on_failure");
  return out;
}

/** How long a sleep or a wait_for timeout may be. */
export const MAX_WAIT_MS = 365 * 86_400_000;

/** Names an item may not take: the context's own, and those of foreach and wait_for. */
const RESERVED = ["event", "steps", "run", "env", "error", "index", "incoming"];

/** What only a foreach, a parallel, a wait_for or a call has to be right about. */
function checkControl(step: Obj, kind: string | undefined, path: string, out: RawProblem[]): void {
  if (kind !== "foreach") {
    for (const k of ["item", "concurrency", "steps"])
      if (k in step) out.push({ path: `${path}.${k}`, message: `${k} belongs to a foreach step` });
  } else {
    if (!("steps" in step))
      out.push({ path, message: 'a foreach needs "steps": the steps run for each item' });
    if (typeof step.item === "string" && RESERVED.includes(step.item))
      out.push({ path: `${path}.item`, message: `the item name "${step.item}" is taken: choose another` });
  }
  if (kind === "parallel" && isObj(step.parallel) && Object.keys(step.parallel).length < 2) {
    out.push({
      path: `${path}.parallel`,
      message: "a parallel needs at least two branches (one branch is a plain list of steps)",
    });
  }
  if (kind === "wait_for" && isObj(step.wait_for))
    exactlyOne(step.wait_for, ["record", "pubsub"], `${path}.wait_for`, out);
}

/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
export const MAX_DURATION_MS = 2_147_483_647;

function checkDurations(raw: Obj, out: RawProblem[]): void {
  const holders: [string, unknown][] = [["defaults", raw.defaults], ...allSteps(raw)];
  for (const [path, h] of holders) {
    if (!isObj(h)) continue;
    tooLong(h.timeout, `${path}.timeout`, out);
    if (isObj(h.retry)) {
      tooLong(h.retry.delay, `${path}.retry.delay`, out);
      tooLong(h.retry.max_delay, `${path}.retry.max_delay`, out);
    }
    // A sleep and a wait are parked in the database, not held by a timer: a longer limit applies.
    tooLong(h.sleep, `${path}.sleep`, out, MAX_WAIT_MS);
    if (isObj(h.wait_for)) tooLong(h.wait_for.timeout, `${path}.wait_for.timeout`, out, MAX_WAIT_MS);
  }
}

function tooLong(v: unknown, path: string, out: RawProblem[], max = MAX_DURATION_MS): void {
  const m = typeof v === "string" ? /^(\d+)(ms|s|m|h|d)$/.exec(v) : undefined;
  const unit = m ? DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS] : 1;
  const ms = m ? Number(m[1]) * unit : typeof v === "number" ? v : 0;
  if (ms <= max) return;
  const message =
    max === MAX_DURATION_MS
      ? "a duration of at most 596h (2147483647 ms)"
      : `a duration of at most 365d, got ${typeof v === "string" ? v : `${v} ms`}`;
  out.push({ path, message });
}

function triggersOf(on: unknown): [number, Obj][] {
  const list = Array.isArray(on) ? on : [on];
  return list.flatMap((t, i): [number, Obj][] => (isObj(t) ? [[i, t]] : []));
}

/** The one kind key of a step, or undefined. */
export function kindOf(step: Obj): string | undefined {
  const kinds = KIND_NAMES.filter((k) => k in step);
  return kinds.length === 1 ? kinds[0] : undefined;
}

function checkStep(step: Obj, path: string, ids: Map<string, string>, out: RawProblem[]): void {
  const kinds = KIND_NAMES.filter((k) => k in step);
  // A misspelt kind (`publsh:`) is already reported as an unknown key with the right name.
  const misspelt = Object.keys(step).some(
    (k) => !Object.hasOwn(Step.properties, k) && nearest(k, KIND_NAMES),
  );
  if (kinds.length === 0 && !misspelt) {
    out.push({ path, message: `a step needs one kind key: ${KIND_NAMES.join(", ")}` });
  } else if (kinds.length > 1) {
    out.push({
      path,
      message: `a step has exactly one kind key, found ${kinds.join(" and ")}; split it in two steps`,
    });
  }
  if (typeof step.id === "string") {
    const first = ids.get(step.id);
    if (first)
      out.push({ path: `${path}.id`, message: `duplicate step id "${step.id}", already used by ${first}` });
    else ids.set(step.id, path);
  }
  const kind = kinds.length === 1 ? kinds[0]! : undefined;
  checkControl(step, kind, path, out);
  const block = kind ? step[kind] : undefined;
  if (!kind || !isObj(block)) return;
  const p = `${path}.${kind}`;
  if (kind === "sql" && hasExpression(block.statement)) {
    out.push({
      path: `${p}.statement`,
      message: "an expression inside sql.statement is not allowed: pass values as params and use $1, $2 ...",
    });
  }
  if (kind === "query") checkWhere(block.where, `${p}.where`, out);
  if (kind === "save") exactlyOne(block, ["record", "records"], p, out);
  if (kind === "push") exactlyOne(block, ["users", "devices"], p, out);
  if (kind === "save" && block.atomic !== undefined && !("records" in block)) {
    out.push({ path: `${p}.atomic`, message: "atomic applies to records: [...], not to a single record" });
  }
}

function exactlyOne(block: Obj, keys: string[], path: string, out: RawProblem[]): void {
  const found = keys.filter((k) => k in block);
  if (found.length === 1) return;
  const message =
    found.length === 0 ? `needs one of ${keys.join(" or ")}` : `takes ${keys.join(" or ")}, not both`;
  out.push({ path, message });
}

function checkTrigger(t: Obj, path: string, out: RawProblem[]): void {
  const cron = t.cron;
  if (!isObj(cron)) return;
  const tz = typeof cron.timezone === "string" ? cron.timezone : "UTC";
  const tzOk = validTimezone(tz);
  if (!tzOk) {
    out.push({
      path: `${path}.cron.timezone`,
      message: `unknown timezone "${tz}": use an IANA name such as Asia/Hong_Kong`,
    });
  }
  if (typeof cron.schedule !== "string") return;
  const problem = cronProblem(cron.schedule, tzOk ? tz : "UTC");
  if (problem) out.push({ path: `${path}.cron.schedule`, message: problem });
}

export function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why a cron schedule is invalid, or undefined. 5 fields, 6 with seconds first, or a @nickname. */
export function cronProblem(schedule: string, timezone = "UTC"): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (!schedule.trim().startsWith("@") && fields.length !== 5 && fields.length !== 6) {
    return `invalid cron schedule "${schedule}": 5 fields (minute hour day month weekday), or 6 with seconds first`;
  }
  try {
    new Cron(schedule, { paused: true, timezone }).stop();
    return undefined;
  } catch (err) {
    const why = (err as Error).message.replace(/^CronPattern: /, "").split(". ")[0];
    return `invalid cron schedule "${schedule}": ${why}`;
  }
}
