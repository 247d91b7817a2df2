// Workflow files -> WorkflowDefinition: parse (yaml.ts), schema (check-schema.ts), static checks (checks.ts),
// compile (build.ts). Every problem of a file at once; a broken file yields problems and no workflow.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import type { Problem } from "../../errors.js";
import { Builder } from "./build.js";
import { checkSchema } from "./check-schema.js";
import { staticChecks } from "./checks.js";
import { nearest } from "./nearest.js";
import type { WorkflowFileShape } from "./schema.js";
import { joinPath } from "./template.js";
import type { WorkflowDefinition } from "./types.js";
import { parseYaml } from "./yaml.js";
import { DEFAULT_YAML_LIMITS, tooLarge, type YamlLimits } from "./yaml-limits.js";

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export interface LoadOptions {
  /** Names `env.NAME` may read; undefined skips the check (the engine passes its configuration's list). */
  envAllow?: string[];
  /** Largest file accepted, in bytes (default 256 KiB; SKYFLOW_WORKFLOW_MAX_BYTES). */
  maxBytes?: number;
}

function limitsOf(opts: LoadOptions): YamlLimits {
  return opts.maxBytes === undefined
    ? DEFAULT_YAML_LIMITS
    : { ...DEFAULT_YAML_LIMITS, maxBytes: opts.maxBytes };
}

export interface LoadResult {
  workflow?: WorkflowDefinition;
  problems: Problem[];
  /** Allowed but worth a look (also on `workflow.warnings`); never make a file invalid. */
  warnings?: Problem[];
}

export function loadWorkflowSource(file: string, text: string, opts: LoadOptions = {}): LoadResult {
  const limits = limitsOf(opts);
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) return { problems: [tooLarge(file, bytes, limits)] };
  const y = parseYaml(file, text, limits);
  // YAML-level problems (syntax, unknown anchors, expressions read as mappings) make the structure unreliable.
  if (y.problems.length > 0) return { problems: y.problems };
  const problems: Problem[] = [];
  const raw = y.value;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    const message = "a workflow file is a mapping with at least `on` and `steps`";
    return { problems: [...problems, { file, line: 1, column: 1, path: "", message }] };
  }
  const on = (raw as { on?: unknown }).on;
  const pubsub = (Array.isArray(on) ? on : [on]).some((t: unknown) => isMap(t) && "pubsub" in t);
  const b = new Builder(y, { file, pubsub, ...(opts.envAllow ? { envAllow: opts.envAllow } : {}) });
  const schemaProblems = checkSchema(raw, joinPath);
  b.raw(schemaProblems);
  b.raw(staticChecks(raw as Record<string, unknown>));
  if (schemaProblems.length > 0) return { problems: sortProblems([...problems, ...b.problems]) };
  const w = raw as WorkflowFileShape;
  const name = w.name ?? basename(file, extname(file));
  if (!NAME.test(name)) {
    const message = `the workflow name "${name}" (from the file name) must be lowercase letters, digits, _ and -; rename the file or add a name: key`;
    return { problems: [{ file, line: 1, column: 1, path: "", message }] };
  }
  const mainIds = w.steps.flatMap((s) => (s.id ? [s.id] : []));
  b.itemNames = itemNames(w);
  const concurrency = b.concurrency(w.concurrency);
  const workflow: WorkflowDefinition = {
    name,
    file,
    ...(w.description !== undefined ? { description: w.description } : {}),
    enabled: w.enabled ?? true,
    version: createHash("sha256").update(text).digest("hex").slice(0, 16),
    source: text,
    triggers: b.triggers(w.on),
    ...(concurrency ? { concurrency } : {}),
    steps: b.steps(w.steps, "steps", w.defaults, { visible: [], error: false, names: [] }),
    onFailure: b.steps(w.on_failure ?? [], "on_failure", w.defaults, {
      visible: mainIds,
      error: true,
      names: [],
    }),
  };
  if (w.output !== undefined)
    workflow.output = b.template(w.output, "output", {
      steps: { ids: mainIds, upTo: mainIds.length },
      error: false,
      names: [],
    });
  if (b.calls.length > 0) workflow.calls = b.calls;
  const all = sortProblems([...problems, ...b.problems]);
  if (all.length > 0) return { problems: all };
  const warnings = sortProblems(b.warnings);
  if (warnings.length > 0) workflow.warnings = warnings;
  return { workflow, problems: [], warnings };
}

/** Each foreach item name with the path of the first foreach that defines it. */
function itemNames(w: WorkflowFileShape): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (list: unknown, at: string): void => {
    if (!Array.isArray(list)) return;
    list.forEach((s, i) => {
      if (!isMap(s)) return;
      const path = `${at}[${i}]`;
      if ("foreach" in s) {
        const name = typeof s.item === "string" ? s.item : "item";
        if (!out.has(name)) out.set(name, path);
        visit(s.steps, `${path}.steps`);
      }
      if (isMap(s.parallel))
        for (const [b, l] of Object.entries(s.parallel)) visit(l, `${path}.parallel.${b}`);
    });
  };
  visit(w.steps, "steps");
  visit(w.on_failure, "on_failure");
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function sortProblems(ps: Problem[]): Problem[] {
  return ps.sort((a, b) => a.line - b.line || a.column - b.column);
}

export async function loadWorkflowFile(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    // Sized before it is read: a huge file is refused without holding it in memory.
    const { size } = await stat(file);
    if (size > limitsOf(opts).maxBytes) return { problems: [tooLarge(file, size, limitsOf(opts))] };
    text = await readFile(file, "utf8");
  } catch (err) {
    return {
      problems: [{ file, line: 1, column: 1, path: "", message: `cannot read: ${(err as Error).message}` }],
    };
  }
  return loadWorkflowSource(file, text, opts);
}

function loadWorkflowTextSync(file: string, opts: LoadOptions): LoadResult {
  let text: string;
  try {
    const { size } = statSync(file);
    if (size > limitsOf(opts).maxBytes) return { problems: [tooLarge(file, size, limitsOf(opts))] };
    text = readFileSync(file, "utf8");
  } catch (err) {
    return {
      problems: [{ file, line: 1, column: 1, path: "", message: `cannot read: ${(err as Error).message}` }],
    };
  }
  return loadWorkflowSource(file, text, opts);
}

/** *.yaml and *.yml, except the test files of `skyflow test` (*.test.yaml, *.test.yml) beside them. */
export const WORKFLOW_FILE = /(?<!\.test)\.ya?ml$/;

export function isWorkflowFile(name: string): boolean {
  return WORKFLOW_FILE.test(name);
}

/** Every *.yaml / *.yml directly in `dir` (not *.test.yaml), sorted; names must be unique across them. */
export async function loadWorkflowDir(
  dir: string,
  opts: LoadOptions = {},
): Promise<{ workflows: WorkflowDefinition[]; problems: Problem[]; files: string[] }> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isFile() && isWorkflowFile(d.name))
    .map((d) => d.name)
    .sort();
  const files = names.map((n) => join(dir, n));
  // Synchronous reads: for many small files they cost a fraction of fs/promises readFile's CPU (measured in
  // bench/definitions.ts), and parsing is synchronous anyway.
  const results = files.map((f) => loadWorkflowTextSync(f, opts));
  const loaded = results.flatMap((r) => (r.workflow ? [r.workflow] : []));
  const { workflows, problems } = directoryChecks(loaded);
  return { workflows, problems: [...results.flatMap((r) => r.problems), ...problems], files };
}

/** The checks across the files of one directory: unique names, then what call steps call. */
export function directoryChecks(list: WorkflowDefinition[]): {
  workflows: WorkflowDefinition[];
  problems: Problem[];
} {
  const unique = uniqueNames(list);
  const calls = callChecks(unique.workflows);
  return { workflows: calls.workflows, problems: [...unique.problems, ...calls.problems] };
}

/**
 * A call to a workflow that is missing or has no `on: call`, and call cycles seen statically (a workflow
 * that can reach itself through its call steps): each is a problem of the calling file, which is dropped.
 */
export function callChecks(list: WorkflowDefinition[]): {
  workflows: WorkflowDefinition[];
  problems: Problem[];
} {
  const byName = new Map(list.map((w) => [w.name, w]));
  const problems: Problem[] = [];
  const at = (w: WorkflowDefinition, c: NonNullable<WorkflowDefinition["calls"]>[number], message: string) =>
    problems.push({ file: w.file, line: c.line, column: c.column, path: c.path, message });
  for (const w of list) {
    for (const c of w.calls ?? []) {
      const target = byName.get(c.workflow);
      if (!target) at(w, c, `call to a missing workflow "${c.workflow}"${nearestName(c.workflow, byName)}`);
      else if (!target.triggers.some((t) => t.kind === "call"))
        at(
          w,
          c,
          `workflow "${c.workflow}" cannot be called: its \`on\` has no call trigger (add - call: {})`,
        );
      else {
        const cycle = cycleFrom(c.workflow, w.name, byName);
        if (cycle) at(w, c, `call cycle: ${[w.name, ...cycle].join(" -> ")}`);
      }
    }
  }
  const bad = new Set(problems.map((p) => p.file));
  return { workflows: list.filter((w) => !bad.has(w.file)), problems };
}

/** A path of calls from `from` back to `to`, or undefined. */
function cycleFrom(from: string, to: string, byName: Map<string, WorkflowDefinition>): string[] | undefined {
  const seen = new Set<string>();
  const walk = (name: string): string[] | undefined => {
    if (name === to) return [name];
    if (seen.has(name)) return undefined;
    seen.add(name);
    for (const c of byName.get(name)?.calls ?? []) {
      const rest = walk(c.workflow);
      if (rest) return [name, ...rest];
    }
    return undefined;
  };
  return walk(from);
}

function nearestName(name: string, byName: Map<string, WorkflowDefinition>): string {
  const near = nearest(name, [...byName.keys()]);
  return near ? ` (did you mean "${near}"?)` : "";
}

/** Drops every workflow whose name another file also uses, with a problem naming both files. */
export function uniqueNames(list: WorkflowDefinition[]): {
  workflows: WorkflowDefinition[];
  problems: Problem[];
} {
  const byName = new Map<string, WorkflowDefinition[]>();
  for (const w of list) byName.set(w.name, [...(byName.get(w.name) ?? []), w]);
  const problems: Problem[] = [];
  for (const [name, ws] of byName) {
    if (ws.length < 2) continue;
    for (const w of ws.slice(1)) {
      const message = `duplicate workflow name "${name}": also used by ${ws[0]!.file}`;
      problems.push({ file: w.file, line: 1, column: 1, path: "name", message });
    }
  }
  const dup = new Set(problems.map((p) => p.file));
  const first = new Set([...byName.values()].filter((ws) => ws.length > 1).map((ws) => ws[0]!.file));
  return { workflows: list.filter((w) => !dup.has(w.file) && !first.has(w.file)), problems };
}
