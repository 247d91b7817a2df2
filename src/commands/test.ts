// `skyflow test [files or workflow names]`: runs the tests in the *.test.yaml files beside the workflows,
// each on its own database with the in-process development server, the real engine and a manual clock.
// Exit 0 all passed, 1 a test failed, 2 a broken test file or a usage error. `--watch` reruns on change.
import { existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { watch } from "chokidar";
import { appSchemaName, type Config, exposedEnv, loadConfig, secretsOf } from "../config.js";
import { createLogger, type Logger, silentLogger } from "../log.js";
import { defineCommand, intFlag, type ParsedArgs, UsageError } from "./args.js";
import { openTestDatabases, type TestDatabases } from "./test-db.js";
import { humanReport, junitReport, type Report, tapReport } from "./test-report.js";
import { runSuite, type SuiteOptions } from "./test-suite.js";
import type { CommandIO } from "./types.js";

const ARGS = {
  options: {
    dir: { type: "string" },
    reporter: { type: "string", choices: ["human", "junit", "tap"] },
    watch: { type: "boolean", short: "w" },
    jobs: { type: "string", short: "j" },
    filter: { type: "string" },
    "keep-db": { type: "boolean" },
  },
  positionals: { max: Number.POSITIVE_INFINITY },
} as const;

type Args = ParsedArgs<typeof ARGS.options>;

export const command = defineCommand({
  name: "test",
  summary: "run the workflow tests in *.test.yaml files (exit 0 passed, 1 failed, 2 broken test file)",
  usage:
    "skyflow test [files or workflow names...] [--dir workflows] [--reporter human|junit|tap] [--watch] [--jobs N] [--filter TEXT] [--keep-db]",
  details:
    "With no argument, every *.test.yaml in the workflows directory. Each test gets a database of its own: on DATABASE_URL when set, else on the embedded Postgres that `skyflow dev` uses.",
  args: ARGS,
  run,
});

async function run(io: CommandIO, args: Args): Promise<number> {
  const config = loadConfig(io.env, { dir: args.values.dir });
  const dir = isAbsolute(config.workflowsDir) ? config.workflowsDir : join(io.cwd, config.workflowsDir);
  if (!existsSync(dir)) throw new UsageError(`no workflows directory ${config.workflowsDir}`);
  const jobs = intFlag("jobs", args.values.jobs, 4, 1, 64);
  const reporter = args.values.reporter ?? "human";
  const shown = (f: string) => relative(io.cwd, f) || f;
  const files = async () => (await findTestFiles(io, dir, args.positionals)).map(shown);
  const first = await files();
  if (first.length === 0) {
    io.stderr.write(`skyflow test: no test files (*.test.yaml) in ${shown(dir)}\n`);
    return args.positionals.length > 0 ? 2 : 0;
  }
  const log: Logger = io.env.LOG_LEVEL
    ? createLogger({ level: io.env.LOG_LEVEL, destination: io.stderr, secrets: secretsOf(config) })
    : silentLogger();
  const dbs = await openTestDatabases({ ...config, stateDir: resolve(io.cwd, config.stateDir) });
  try {
    const suite = suiteOptions(io, config, dbs, dir, log, jobs, args);
    const once = async (list: string[]) => {
      const report = await runSuite(
        list.map((f) => join(io.cwd, f)),
        suite,
      );
      const relReport: Report = {
        ...report,
        outcomes: report.outcomes.map((o) => ({ ...o, file: shown(o.file) })),
        broken: report.broken.map((p) => ({ ...p, file: shown(p.file) })),
      };
      const text =
        reporter === "junit"
          ? junitReport(relReport)
          : reporter === "tap"
            ? tapReport(relReport)
            : humanReport(relReport);
      io.stdout.write(text);
      return exitCode(relReport);
    };
    if (!args.values.watch) return await once(first);
    return await watchLoop(io, dir, async () => void (await once(await files())));
  } finally {
    await dbs.close();
  }
}

function suiteOptions(
  io: CommandIO,
  config: Config,
  dbs: TestDatabases,
  dir: string,
  log: Logger,
  jobs: number,
  args: Args,
): SuiteOptions {
  return {
    dbs,
    dir,
    load: { envAllow: config.envAllow, maxBytes: config.workflowMaxBytes },
    appSchema: appSchemaName(config.appName),
    apiKey: config.apiKey,
    masterKey: config.masterKey,
    env: exposedEnv(io.env, config.envAllow),
    secrets: secretsOf(config),
    log,
    jobs,
    ...(args.values.filter ? { filter: args.values.filter } : {}),
    ...(args.values["keep-db"] ? { keep: true } : {}),
  };
}

export function exitCode(r: Report): number {
  if (r.broken.length > 0) return 2;
  return r.outcomes.some((o) => o.failures.length > 0) ? 1 : 0;
}

/** Test files named on the command line (files, directories or workflow names), else all in `dir`. */
async function findTestFiles(io: CommandIO, dir: string, names: string[]): Promise<string[]> {
  const inDir = async (d: string) =>
    (await readdir(d))
      .filter((n) => /\.test\.ya?ml$/.test(n))
      .sort()
      .map((n) => join(d, n));
  if (names.length === 0) return inDir(dir);
  const out: string[] = [];
  for (const n of names) {
    const p = isAbsolute(n) ? n : join(io.cwd, n);
    if (existsSync(p) && statSync(p).isDirectory()) out.push(...(await inDir(p)));
    else if (existsSync(p)) out.push(p);
    else {
      const byName = [`${n}.test.yaml`, `${n}.test.yml`].map((f) => join(dir, f)).find((f) => existsSync(f));
      if (!byName)
        throw new UsageError(`no test file ${n}, and no ${n}.test.yaml in ${relative(io.cwd, dir) || dir}`);
      out.push(byName);
    }
  }
  return [...new Set(out)];
}

/** Runs `pass` now and again after each change in the directory, until SIGINT or SIGTERM. */
async function watchLoop(io: CommandIO, dir: string, pass: () => Promise<void>): Promise<number> {
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  let timer: NodeJS.Timeout | undefined;
  // One pass at a time; changes during a pass queue one more.
  const rerun = () => {
    if (queued) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      await pass().catch((err) => io.stderr.write(`skyflow test: ${(err as Error).message}\n`));
      io.stdout.write("skyflow test: watching for changes (Ctrl-C to stop)\n");
    });
  };
  rerun();
  const watcher = watch(dir, { ignoreInitial: true, depth: 0 });
  watcher.on("all", (_event, path) => {
    if (!/\.ya?ml$/.test(path) && !/\.json$/.test(path)) return;
    clearTimeout(timer);
    timer = setTimeout(rerun, 150);
  });
  await new Promise<void>((resolve) => {
    io.onSignal("SIGINT", resolve);
    io.onSignal("SIGTERM", resolve);
  });
  clearTimeout(timer);
  await watcher.close();
  await running;
  return 0;
}
