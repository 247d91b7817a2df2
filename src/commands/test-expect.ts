// Expectations of `skyflow test` against what a test's world shows: the run and its steps, records, pushes,
// published messages and SQL rows. Expected mappings are partial (keys not written are not checked), lists
// have the length written, `{ $match: regex }` matches a string. Each failure is located at the YAML value
// that did not match.
import type { WorkflowDefinition } from "../engine/definition/types.js";
import type { RunDetails } from "../engine/engine.js";
import type { RunState } from "../engine/state.js";
import type { Expectations, Expected, Pos, TestFile } from "./test-format.js";
import { kp } from "./test-format.js";
import type { World } from "./test-run.js";

export interface Failure {
  pos: Pos;
  message: string;
}

interface Mismatch {
  path: string;
  message: string;
}

const show = (v: unknown): string => {
  const s = v === undefined ? "nothing" : JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 297)}...` : s;
};
const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The first difference between an expected value and the actual one, with its path inside `expected`. */
export function mismatch(expected: unknown, actual: unknown, path = ""): Mismatch | undefined {
  if (isObj(expected) && Object.keys(expected).length === 1 && typeof expected.$match === "string") {
    const ok = typeof actual === "string" && new RegExp(expected.$match).test(actual);
    return ok
      ? undefined
      : { path, message: `expected a string matching /${expected.$match}/, got ${show(actual)}` };
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return { path, message: `expected a list, got ${show(actual)}` };
    if (actual.length !== expected.length)
      return {
        path,
        message: `expected ${expected.length} item${expected.length === 1 ? "" : "s"}, got ${actual.length}: ${show(actual)}`,
      };
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(expected[i], actual[i], kp(path, i));
      if (m) return m;
    }
    return undefined;
  }
  if (isObj(expected)) {
    if (!isObj(actual)) return { path, message: `expected a mapping, got ${show(actual)}` };
    for (const [k, v] of Object.entries(expected)) {
      if (!(k in actual) && v !== null)
        return { path: kp(path, k), message: `expected ${show(v)}, got nothing (no key "${k}")` };
      const m = mismatch(v, actual[k] ?? null, kp(path, k));
      if (m) return m;
    }
    return undefined;
  }
  return Object.is(expected, actual) || (expected === null && actual === undefined)
    ? undefined
    : { path, message: `expected ${show(expected)}, got ${show(actual)}` };
}

/** Every failed expectation of one `expect:` block. */
export async function check(
  e: Expectations,
  world: World,
  def: WorkflowDefinition,
  file: TestFile,
): Promise<Failure[]> {
  const failures: Failure[] = [];
  const compare = (exp: Expected | undefined, actual: unknown, what: string) => {
    if (!exp) return;
    const m = mismatch(exp.value, actual);
    if (m)
      failures.push({
        pos: file.at(m.path ? joinPaths(exp.path, m.path) : exp.path),
        message: `${what}${m.path ? ` ${m.path}` : ""}: ${m.message}`,
      });
  };
  const runs = (await world.runs()).filter((r) => r.workflow === def.name);
  const run = runs[0];
  compare(e.runs, runs.length, "runs");
  if (e.run) {
    const status = run?.status ?? "none";
    if (status !== e.run.value)
      failures.push({
        pos: e.run.pos,
        message: `run: expected ${e.run.value}, got ${status}${runError(run)}`,
      });
  }
  const needsRun = e.steps.length > 0 || e.output || e.error;
  if (needsRun && !run) {
    failures.push({ pos: e.pos, message: `expected a run of ${def.name}, but none was started` });
  } else if (run) {
    stepFailures(e, run, def, file, failures);
    compare(e.output, runOutput(run, def), "output");
    compare(e.error, run.error, "error");
  }
  for (const r of e.records) {
    const found = await world.records(r);
    compare(r.count, found.count, `records of type ${r.type} count`);
    if (r.records) unordered(r.records, found.records, `records of type ${r.type}`, file, failures);
  }
  compare(e.pushes, (await world.pushes()).map(pushView), "pushes");
  compare(e.published, world.published, "published");
  for (const q of e.sql) compare(q.rows, await world.sql(q), `sql ${oneLine(q.statement)}`);
  return failures;
}

function joinPaths(base: string, sub: string): string {
  return sub.startsWith("[") ? `${base}${sub}` : `${base}.${sub}`;
}

function runError(run: RunDetails | undefined): string {
  return run?.error ? ` (${run.error.name} at ${run.error.step}: ${run.error.message})` : "";
}

function stepFailures(
  e: Expectations,
  run: RunDetails,
  def: WorkflowDefinition,
  file: TestFile,
  failures: Failure[],
): void {
  const all = [...def.steps, ...def.onFailure];
  const state = (run.snapshot as RunState | null)?.steps ?? {};
  for (const s of e.steps) {
    const step = all.find((x) => x.id === s.key) ?? all.find((x) => x.key === s.key || x.name === s.key);
    if (!step) {
      const known = all.map((x) => x.id ?? x.key).join(", ");
      failures.push({
        pos: s.pos,
        message: `steps: ${def.name} has no step "${s.key}" (its steps: ${known})`,
      });
      continue;
    }
    const st = state[step.key];
    const tries = run.tries.filter((t) => t.stepKey === step.key);
    const lastOk = tries.filter((t) => t.status === "succeeded").at(-1);
    // A new run's first try, running before anything of it is saved, is shown as an unsaved try (getRun).
    const status = st?.status ?? (tries.some((t) => t.unsaved) ? "running" : "none");
    const sub = (exp: Expected | undefined, actual: unknown, what: string) => {
      if (!exp) return;
      const m = mismatch(exp.value, actual);
      if (m)
        failures.push({
          pos: file.at(m.path ? joinPaths(exp.path, m.path) : exp.path),
          message: `step ${s.key} ${what}${m.path ? ` ${m.path}` : ""}: ${m.message}${what === "status" ? stepError(st?.error ?? tries.at(-1)?.error) : ""}`,
        });
    };
    sub(s.status, status, "status");
    sub(s.attempts, st?.attempts ?? 0, "attempts");
    sub(s.output, lastOk?.output ?? st?.output ?? null, "output");
    sub(s.error, st?.error ?? tries.at(-1)?.error ?? null, "error");
  }
}

function stepError(err: { name: string; message: string } | null | undefined): string {
  return err ? ` (${err.name}: ${err.message})` : "";
}

/**
 * What the run returns: the workflow's `output` as the saved state holds it, else the output of the step the
 * state names (`returnsStep`), else of the last main step.
 */
export function runOutput(run: RunDetails, def: WorkflowDefinition): unknown {
  const snap = run.snapshot as (RunState & { returnsStep?: string; output?: unknown }) | null;
  if (snap && "output" in snap) return snap.output ?? null;
  const key = snap?.returnsStep ?? def.steps.at(-1)?.key;
  if (!key) return null;
  return run.tries.filter((t) => t.stepKey === key && t.status === "succeeded").at(-1)?.output ?? null;
}

/** A recorded push as a test writes it: `users` or `devices`, `topic`, `notification`. */
function pushView(p: { kind: string; ids: string[]; topic: string | null; notification: unknown }) {
  return {
    [p.kind === "user" ? "users" : "devices"]: p.ids,
    topic: p.topic,
    notification: p.notification,
  };
}

/** Each expected record matches a different found record, in any order, and none is left over. */
function unordered(exp: Expected<unknown[]>, found: unknown[], what: string, file: TestFile, out: Failure[]) {
  if (exp.value.length !== found.length) {
    out.push({
      pos: exp.pos,
      message: `${what}: expected ${exp.value.length}, found ${found.length}: ${show(found)}`,
    });
    return;
  }
  const left = [...found];
  exp.value.forEach((x, i) => {
    const j = left.findIndex((f) => !mismatch(x, f));
    if (j >= 0) left.splice(j, 1);
    else
      out.push({
        pos: file.at(kp(exp.path, i)),
        message: `${what}: none found matches ${show(x)}; found ${show(found)}`,
      });
  });
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}
