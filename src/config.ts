// Environment variables and flags -> Config. Pure: the CLI passes process.env and argv in. Every variable
// skyflow reads is listed once in VARIABLES (the README's configuration table mirrors it).
import { checkEnvAllow } from "./config-checks.js";
import { ConfigError } from "./errors.js";
import { HELPER_NICE } from "./helper-threads.js";
import { DEFAULT_LIMITS, type ServerLimits } from "./server/limits.js";

export const VARIABLES = {
  DATABASE_URL: "Postgres URL; without it skyflow starts an embedded Postgres under .skyflow/",
  SKYGEAR_ENDPOINT: "URL of a Skygear v1 server; without it `dev` embeds the development server",
  SKYGEAR_API_KEY: "client API key (server: accepted key; engine: pubsub, and steps without `as:`)",
  SKYGEAR_MASTER_KEY: "master key (steps with `as:` a user, impersonated with _user_id, or `as: master`)",
  SKYGEAR_APP_NAME: "app name; records live in Postgres schema app_<name>",
  PORT: "port of the Skygear-compatible server (`serve`, `dev`)",
  SKYFLOW_HOST:
    "interface the Skygear-compatible server and the HTTP endpoints listen on (default 127.0.0.1; flag --host); the development keys are refused off loopback",
  SKYFLOW_HTTP_PORT: "port of /healthz, /readyz, /metrics and the dashboard under `start` (0 = off)",
  SKYFLOW_DASHBOARD_TOKEN:
    "token (16+ characters) that opens the dashboard and its API besides the master key; `dev` on loopback needs neither",
  SKYFLOW_STATE_DIR: "where the embedded Postgres keeps its data (default .skyflow)",
  SKYFLOW_MAX_RUNS: "runs in flight at once in this engine (default 200)",
  SKYFLOW_SQL_GROUP:
    "on (the default): `sql` steps of different runs ready together share one transaction; off: each `sql` step has a transaction of its own",
  SKYFLOW_LOOP_DEPTH: "longest chain of runs started by runs' own writes (default 5)",
  SKYFLOW_GRACE_MS: "how long shutdown waits for runs in flight (default 10000)",
  SKYFLOW_LEASE_MS:
    "how long a run's lease lasts unrenewed: when an engine dies, others take its runs over after this; an engine that cannot renew stops its runs a sixth of it before (default 30000)",
  SKYFLOW_WORKFLOW_MAX_BYTES:
    "largest workflow file loaded, in bytes (default 65536); a larger file is refused with a problem at its line 1",
  SKYFLOW_HELPER_NICE:
    "`start` and `dev` on Linux: nice value (0-19) of the daemon's threads other than its JavaScript thread (V8's compiler and collector helpers), set once it has started (default 19, the least priority; 0 leaves them as they are)",
  SKYFLOW_ENV_ALLOW: "comma-separated names of environment variables that expressions may read as env.NAME",
  LOG_LEVEL: "trace, debug, info, warn, error (default info)",
  SKYFLOW_MAX_BODY_BYTES:
    "Skygear-compatible server: largest request body in bytes; larger is refused with 413 BadRequest (default 16777216)",
  SKYFLOW_MAX_RECORDS:
    "Skygear-compatible server: records per record:save, ids per record:fetch or record:delete; more is refused with 108 (default 1000)",
  SKYFLOW_MAX_IN_LIST:
    "Skygear-compatible server: values in one `in` list of a query predicate; more is refused with 120 (default 10000)",
  SKYFLOW_MAX_PREDICATE_DEPTH:
    "Skygear-compatible server: how deep a query predicate's and/or/not may nest; deeper is refused with 120 (default 32)",
  SKYFLOW_MAX_QUERY_TERMS:
    "Skygear-compatible server: comparisons in one query predicate, and entries of its sort, include or desired_keys; more is refused with 120, or 108 for desired_keys (default 1000)",
  SKYFLOW_MAX_VALUE_DEPTH:
    "Skygear-compatible server: how deep a record field's json value may nest; deeper is refused with 108 (default 64)",
} as const;

export type VariableName = keyof typeof VARIABLES;

export const DEV_API_KEY = "skyflow-dev-api-key";
export const DEV_MASTER_KEY = "skyflow-dev-master-key";
export const DEV_APP_NAME = "skyflow";

export interface Config {
  databaseUrl?: string;
  skygearEndpoint?: string;
  apiKey: string;
  masterKey: string;
  appName: string;
  /** true when a key was not given and a development default was used (printed at start). */
  devKeys: boolean;
  /** Interface the embedded server and the HTTP endpoints listen on. */
  host: string;
  port: number;
  httpPort: number;
  /** Opens the dashboard besides the master key (undefined: the master key alone). */
  dashboardToken?: string;
  stateDir: string;
  workflowsDir: string;
  maxRuns: number;
  /** SKYFLOW_SQL_GROUP: `sql` steps ready together may share a transaction (src/steps/sql-group.ts). */
  sqlGroup: boolean;
  loopDepth: number;
  graceMs: number;
  leaseMs: number;
  envAllow: string[];
  /** SKYFLOW_HELPER_NICE: src/helper-threads.ts (0: left as they are). */
  helperNice: number;
  workflowMaxBytes: number;
  logLevel: string;
  /** What one request to the Skygear-compatible server may ask (SKYFLOW_MAX_*). */
  serverLimits: ServerLimits;
}

/** Flag values (already parsed by the CLI) take precedence over environment variables. */
export interface Flags {
  port?: string;
  "app-name"?: string;
  "api-key"?: string;
  "master-key"?: string;
  "http-port"?: string;
  host?: string;
  dir?: string;
}

export function loadConfig(env: Record<string, string | undefined>, flags: Flags = {}): Config {
  const apiKey = flags["api-key"] ?? env.SKYGEAR_API_KEY;
  const masterKey = flags["master-key"] ?? env.SKYGEAR_MASTER_KEY;
  const cfg: Config = {
    databaseUrl: nonEmpty(env.DATABASE_URL),
    skygearEndpoint: nonEmpty(env.SKYGEAR_ENDPOINT),
    apiKey: apiKey || DEV_API_KEY,
    masterKey: masterKey || DEV_MASTER_KEY,
    appName: flags["app-name"] ?? env.SKYGEAR_APP_NAME ?? DEV_APP_NAME,
    devKeys: !apiKey || !masterKey,
    host: flags.host || env.SKYFLOW_HOST || "127.0.0.1",
    port: int("PORT", flags.port ?? env.PORT, 3000, 0, 65535),
    httpPort: int("SKYFLOW_HTTP_PORT", flags["http-port"] ?? env.SKYFLOW_HTTP_PORT, 0, 0, 65535),
    dashboardToken: nonEmpty(env.SKYFLOW_DASHBOARD_TOKEN),
    stateDir: env.SKYFLOW_STATE_DIR || ".skyflow",
    workflowsDir: flags.dir ?? "workflows",
    maxRuns: int("SKYFLOW_MAX_RUNS", env.SKYFLOW_MAX_RUNS, 200, 1, 100_000),
    sqlGroup: onOff("SKYFLOW_SQL_GROUP", env.SKYFLOW_SQL_GROUP, true),
    loopDepth: int("SKYFLOW_LOOP_DEPTH", env.SKYFLOW_LOOP_DEPTH, 5, 0, 1000),
    graceMs: int("SKYFLOW_GRACE_MS", env.SKYFLOW_GRACE_MS, 10_000, 0, 3_600_000),
    leaseMs: int("SKYFLOW_LEASE_MS", env.SKYFLOW_LEASE_MS, 30_000, 1_000, 3_600_000),
    helperNice: int("SKYFLOW_HELPER_NICE", env.SKYFLOW_HELPER_NICE, HELPER_NICE, 0, 19),
    envAllow: (env.SKYFLOW_ENV_ALLOW ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    workflowMaxBytes: int(
      "SKYFLOW_WORKFLOW_MAX_BYTES",
      env.SKYFLOW_WORKFLOW_MAX_BYTES,
      65_536,
      1024,
      16_777_216,
    ),
    logLevel: env.LOG_LEVEL || "info",
    serverLimits: serverLimits(env),
  };
  if (!/^[A-Za-z0-9_]+$/.test(cfg.appName)) {
    throw new ConfigError("SKYGEAR_APP_NAME", "use letters, digits and underscores only");
  }
  if (cfg.apiKey === cfg.masterKey) {
    throw new ConfigError("SKYGEAR_MASTER_KEY", "the master key must differ from the API key");
  }
  checkDashboardToken(cfg);
  checkEnvAllow(cfg.envAllow, env, [cfg.apiKey, cfg.masterKey]);
  return cfg;
}

/** A dashboard token opens what the master key opens: it must not be short or the app's public API key. */
function checkDashboardToken(cfg: Config): void {
  const token = cfg.dashboardToken;
  if (token === undefined) return;
  if (token.length < 16) {
    throw new ConfigError("SKYFLOW_DASHBOARD_TOKEN", "use at least 16 characters (a random string)");
  }
  if (token === cfg.apiKey) {
    throw new ConfigError(
      "SKYFLOW_DASHBOARD_TOKEN",
      "must differ from the API key, which apps ship to clients",
    );
  }
}

/**
 * Every secret value of the configuration: the keys, the dashboard token, and the database password (from
 * DATABASE_URL). They
 * are replaced by [redacted] wherever skyflow stores, logs or shows text.
 */
export function secretsOf(cfg: Config): string[] {
  const out = [cfg.apiKey, cfg.masterKey, ...(cfg.dashboardToken ? [cfg.dashboardToken] : [])];
  if (cfg.databaseUrl) {
    try {
      const password = decodeURIComponent(new URL(cfg.databaseUrl).password);
      if (password.length >= 4) out.push(password);
    } catch {}
  }
  return out;
}

/** `app_<name lowercased, '.' and ':' replaced by '_'>` (protocol §7). */
export function appSchemaName(appName: string): string {
  return `app_${appName.toLowerCase().replace(/[.:]/g, "_")}`;
}

/** Only the allowed variables, for expressions' `env`. */
export function exposedEnv(env: Record<string, string | undefined>, allow: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of allow) {
    const v = env[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function serverLimits(env: Record<string, string | undefined>): ServerLimits {
  const d = DEFAULT_LIMITS;
  return {
    bodyBytes: int("SKYFLOW_MAX_BODY_BYTES", env.SKYFLOW_MAX_BODY_BYTES, d.bodyBytes, 1024, 1024 ** 3),
    records: int("SKYFLOW_MAX_RECORDS", env.SKYFLOW_MAX_RECORDS, d.records, 1, 1_000_000),
    inList: int("SKYFLOW_MAX_IN_LIST", env.SKYFLOW_MAX_IN_LIST, d.inList, 1, 60_000),
    predicateDepth: int(
      "SKYFLOW_MAX_PREDICATE_DEPTH",
      env.SKYFLOW_MAX_PREDICATE_DEPTH,
      d.predicateDepth,
      1,
      1000,
    ),
    queryTerms: int("SKYFLOW_MAX_QUERY_TERMS", env.SKYFLOW_MAX_QUERY_TERMS, d.queryTerms, 1, 100_000),
    valueDepth: int("SKYFLOW_MAX_VALUE_DEPTH", env.SKYFLOW_MAX_VALUE_DEPTH, d.valueDepth, 1, 1000),
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v ? v : undefined;
}

function onOff(name: string, raw: string | undefined, dflt: boolean): boolean {
  if (raw === undefined || raw === "") return dflt;
  if (raw === "on") return true;
  if (raw === "off") return false;
  throw new ConfigError(name, `expected on or off, got "${raw}"`);
}

function int(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}
