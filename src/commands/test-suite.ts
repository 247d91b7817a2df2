// One pass of `skyflow test`: reads the test files and the workflows, runs every test (a bounded number at
// once, each on its own database) and gathers the report. Broken files run nothing and are reported.
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { LoadOptions } from "../engine/definition/load.js";
import { loadWorkflowDir } from "../engine/definition/load.js";
import type { WorkflowDefinition } from "../engine/definition/types.js";
import type { Problem } from "../errors.js";
import type { Logger } from "../log.js";
import type { TestDatabases } from "./test-db.js";
import { check, type Failure } from "./test-expect.js";
import { parseEventFile, parseTestFile, type TestCase, type TestFile } from "./test-format.js";
import type { Report, TestOutcome } from "./test-report.js";
import { openHarness, within } from "./test-run.js";

/** A test that takes longer (real time) fails, and the others go on. */
const TEST_LIMIT_MS = 180_000;

export interface SuiteOptions {
  dbs: TestDatabases;
  /** The workflows directory, as shown in messages. */
  dir: string;
  load: LoadOptions;
  appSchema: string;
  apiKey: string;
  masterKey: string;
  env: Record<string, string>;
  secrets: string[];
  log: Logger;
  /** Tests at once. */
  jobs: number;
  /** Only tests whose name contains this. */
  filter?: string;
  keep?: boolean;
  /** Called as each test ends (for live output). */
  onOutcome?: (o: TestOutcome) => void;
}

export async function runSuite(files: string[], o: SuiteOptions): Promise<Report> {
  const started = Date.now();
  const broken: Problem[] = [];
  const loaded = await loadWorkflowDir(o.dir, o.load);
  const parsed: TestFile[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, "utf8");
    } catch (err) {
      broken.push({
        file: f,
        line: 1,
        column: 1,
        path: "",
        message: `cannot read: ${(err as Error).message}`,
      });
      continue;
    }
    const r = parseTestFile(f, text, basename(f));
    broken.push(...r.problems);
    if (!r.file) continue;
    const def = loaded.workflows.find((w) => w.name === r.file!.workflow);
    if (!def) {
      const own = loaded.problems.filter(
        (p) => basename(p.file).replace(/\.ya?ml$/, "") === r.file!.workflow,
      );
      broken.push(...own);
      const pos = r.file.at("workflow");
      const message = own.length
        ? `the workflow "${r.file.workflow}" does not load (its problems are listed)`
        : `no workflow named "${r.file.workflow}" in ${o.dir}`;
      broken.push({ file: f, ...pos, path: "workflow", message });
      continue;
    }
    const problems = await readEventFiles(r.file);
    broken.push(...problems);
    if (problems.length === 0) parsed.push(r.file);
  }
  const jobs: { file: TestFile; test: TestCase; def: WorkflowDefinition }[] = [];
  for (const file of parsed) {
    const def = loaded.workflows.find((w) => w.name === file.workflow)!;
    for (const test of file.tests) {
      if (!o.filter || test.name.includes(o.filter)) jobs.push({ file, test, def });
    }
  }
  const outcomes: TestOutcome[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const j = jobs[i]!;
      outcomes[i] = await runTest(j.file, j.test, j.def, loaded.workflows, o);
      o.onOutcome?.(outcomes[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, jobs.length)) }, worker));
  return { outcomes, broken, ms: Date.now() - started };
}

/** Replaces each `event: { file }` with the event that file holds (relative to the test file). */
async function readEventFiles(file: TestFile): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const test of file.tests) {
    for (const a of test.actions) {
      if (a.kind !== "event" || a.event.kind !== "file") continue;
      const path = join(dirname(file.file), a.event.path);
      const text = await readFile(path, "utf8").catch((err: Error) => err);
      if (text instanceof Error) {
        problems.push({
          file: file.file,
          ...a.pos,
          path: "event.file",
          message: `cannot read ${path}: ${text.message}`,
        });
        continue;
      }
      const r = parseEventFile(path, text);
      problems.push(...r.problems);
      if (r.event) a.event = r.event;
    }
  }
  return problems;
}

async function runTest(
  file: TestFile,
  test: TestCase,
  def: WorkflowDefinition,
  workflows: WorkflowDefinition[],
  o: SuiteOptions,
): Promise<TestOutcome> {
  const started = Date.now();
  const failures: Failure[] = [];
  let at = test.pos;
  let database: string | undefined;
  const work = (async () => {
    const h = await openHarness({ ...o, workflows, workflow: def }, test);
    database = h.database;
    try {
      for (const a of test.actions) {
        at = a.pos;
        if (a.kind === "event") await h.event(a.event);
        else if (a.kind === "advance") await h.advance(a.ms);
        else failures.push(...(await check(a.expect, h.world, def, file)));
      }
    } finally {
      await h.close();
    }
  })().catch((err: Error) => {
    failures.push({ pos: at, message: err.message });
  });
  if ((await within(TEST_LIMIT_MS, work)) === "late")
    failures.push({
      pos: at,
      message: `the test did not finish within ${TEST_LIMIT_MS / 1000} s (stuck here)`,
    });
  return {
    file: file.file,
    name: test.name,
    ...test.pos,
    ms: Date.now() - started,
    failures: failures.map((f) => ({ ...f.pos, message: f.message })),
    ...(o.keep && database ? { database } : {}),
  };
}
