// `skyflow trigger <workflow> [--event file.json | --input file.json] [--dir workflows]`: runs one workflow by
// hand with a one-off engine that executes only that run (and the runs it calls), prints its step timeline,
// exits 0 when it succeeded, 1 when it failed. `--input` starts it as a `call` would: event.input. Without SKYGEAR_ENDPOINT the steps talk to the in-process development server.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { appSchemaName, type Config, exposedEnv, loadConfig, secretsOf } from "../config.js";
import { openDatabase } from "../db/open.js";
import { loadWorkflowDir } from "../engine/definition/load.js";
import type { Catalog, TriggerEvent, WorkflowDefinition } from "../engine/definition/types.js";
import { createEngine } from "../engine/engine.js";
import { checkManualEvent } from "../engine/manual-event.js";
import { formatProblem } from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import { createSkygearHandler } from "../server/index.js";
import { createContainer, SkygearContainer } from "../skygear/container.js";
import { createPubsubClient } from "../skygear/pubsub.js";
import { createInProcessTransport } from "../skygear/transport-inprocess.js";
import type { StepClients } from "../steps/types.js";
import { defineCommand, type ParsedArgs } from "./args.js";
import { formatRunTimeline } from "./runs-format.js";
import type { CommandIO } from "./types.js";

const ARGS = {
  options: { event: { type: "string" }, input: { type: "string" }, dir: { type: "string" } },
  positionals: { min: 1, max: 1, names: ["workflow"] },
} as const;

export const command = defineCommand({
  name: "trigger",
  summary: "run one workflow by hand and print its step timeline (exit 0 succeeded, 1 failed)",
  usage: "skyflow trigger <workflow> [--event file.json | --input file.json] [--dir workflows]",
  args: ARGS,
  run,
});

async function run(io: CommandIO, { values, positionals }: ParsedArgs<typeof ARGS.options>): Promise<number> {
  const args = { name: positionals[0]!, event: values.event, input: values.input, dir: values.dir };
  if (args.event && args.input) {
    io.stderr.write("skyflow trigger: give --event or --input, not both\n");
    return 2;
  }
  const config = loadConfig(io.env, { dir: args.dir });
  const found = await findWorkflow(io, config, args.name);
  if (!found) return 2;
  const { def, all } = found;
  let event: Partial<TriggerEvent> = {};
  if (args.input) {
    try {
      event = { type: "call", input: parseJson(await readFile(resolve(io.cwd, args.input), "utf8")) };
    } catch (err) {
      io.stderr.write(`skyflow trigger: --input ${args.input}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  if (args.event) {
    try {
      event = readEvent(await readFile(resolve(io.cwd, args.event), "utf8"));
    } catch (err) {
      io.stderr.write(`skyflow trigger: --event ${args.event}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const log = createLogger({
    level: io.env.LOG_LEVEL ?? "warn",
    destination: io.stderr,
    secrets: secretsOf(config),
  });
  return runOnce(io, config, def, all, event, log);
}

async function findWorkflow(
  io: CommandIO,
  config: Config,
  name: string,
): Promise<{ def: WorkflowDefinition; all: WorkflowDefinition[] } | undefined> {
  const dir = resolve(io.cwd, config.workflowsDir);
  let loaded: Awaited<ReturnType<typeof loadWorkflowDir>>;
  try {
    loaded = await loadWorkflowDir(dir, { envAllow: config.envAllow, maxBytes: config.workflowMaxBytes });
  } catch (err) {
    io.stderr.write(`skyflow trigger: cannot read ${dir}: ${(err as Error).message}\n`);
    return undefined;
  }
  const def = loaded.workflows.find((w) => w.name === name);
  if (def) return { def, all: loaded.workflows };
  for (const p of loaded.problems) io.stderr.write(`${formatProblem(p)}\n`);
  io.stderr.write(`skyflow trigger: no valid workflow named "${name}" in ${dir}\n`);
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(jsonErrorAt(text, err as Error));
  }
}

function readEvent(text: string): Partial<TriggerEvent> {
  const v = parseJson(text);
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("expected a JSON object");
  checkManualEvent(v as Partial<TriggerEvent>);
  return v as Partial<TriggerEvent>;
}

/** JSON.parse's message with its character position as line and column (1-based). */
function jsonErrorAt(text: string, err: Error): string {
  const m = /^(.*?)(?: in JSON)? at position (\d+)/.exec(err.message);
  const pos = m ? Number(m[2]) : /end of JSON input/.test(err.message) ? text.length : undefined;
  if (pos === undefined) return err.message;
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `line ${line}, column ${column}: ${m ? m[1] : err.message}`;
}

async function runOnce(
  io: CommandIO,
  config: Config,
  def: WorkflowDefinition,
  all: WorkflowDefinition[],
  event: Partial<TriggerEvent>,
  log: Logger,
): Promise<number> {
  const db = await openDatabase(config, log);
  const clients = await openClients(config, db.pool, log);
  const only: string[] = [];
  // Every workflow can be called; only this run and the runs it calls are executed here.
  const catalog: Catalog = {
    get: (n) => all.find((w) => w.name === n),
    list: () => [def],
    subscribe: () => () => {},
  };
  const engine = createEngine({
    pool: db.pool,
    catalog,
    clients: clients.clients,
    log,
    maxRuns: 1,
    env: exposedEnv(io.env, config.envAllow),
    secrets: secretsOf(config),
    claimOnly: only,
  });
  try {
    const { runId } = await engine.trigger(def.name, event);
    only.push(runId);
    await engine.start();
    const calls = followCalls(db.pool, only, () => engine.wake());
    const details = await engine.waitForRun(runId, 24 * 3600 * 1000).finally(() => clearInterval(calls));
    io.stdout.write(formatRunTimeline(details));
    return details.status === "succeeded" ? 0 : 1;
  } finally {
    await engine.stop({ graceMs: 0 });
    await clients.close();
    await db.close();
  }
}

/** Adds the runs that the claimed ones call to `only`, as they appear, so this engine executes them too. */
function followCalls(pool: import("pg").Pool, only: string[], wake: () => void): NodeJS.Timeout {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await pool.query<{ id: string }>(
        "SELECT id FROM skyflow.runs WHERE parent_id = ANY($1::uuid[]) AND NOT (id = ANY($1::uuid[]))",
        [only],
      );
      for (const r of rows) only.push(r.id);
      if (rows.length > 0) wake();
    } catch {
      // The next tick tries again.
    } finally {
      busy = false;
    }
  }, 100);
  timer.unref();
  return timer;
}

async function openClients(config: Config, pool: import("pg").Pool, log: Logger) {
  const appSchema = appSchemaName(config.appName);
  if (config.skygearEndpoint) {
    const skygear = createContainer({
      endpoint: config.skygearEndpoint,
      apiKey: config.apiKey,
      masterKey: config.masterKey,
    });
    const pubsub = createPubsubClient({ endpoint: config.skygearEndpoint, apiKey: config.apiKey, log });
    const clients: StepClients = { skygear, pool, appSchema, pubsub };
    return {
      clients,
      close: async () => void (await Promise.all([pubsub.close(), skygear.transport.close?.()])),
    };
  }
  const serverConfig = {
    appName: config.appName,
    schema: appSchemaName(config.appName),
    apiKey: config.apiKey,
    masterKey: config.masterKey,
  };
  const handler = createSkygearHandler({ pool, config: serverConfig, log });
  await handler.ready();
  const skygear = new SkygearContainer({
    transport: createInProcessTransport(handler),
    apiKey: config.apiKey,
    masterKey: config.masterKey,
  });
  const pubsub = {
    publish: async (channel: string, data: unknown) => handler.app.publish("public", channel, data),
  };
  return { clients: { skygear, pool, appSchema, pubsub }, close: () => handler.close() };
}
