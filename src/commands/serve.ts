// `skyflow serve`: the Skygear-compatible development server on its own (database, handler, HTTP and
// pubsub), until SIGINT/SIGTERM. Development default keys are printed; keys the user supplied never are.
import { appSchemaName, type Config, DEV_API_KEY, DEV_MASTER_KEY, loadConfig, secretsOf } from "../config.js";
import { checkKeysFor } from "../config-checks.js";
import { openDatabase } from "../db/open.js";
import { createLogger } from "../log.js";
import { startSkygearServer } from "../server/http.js";
import { createSkygearHandler } from "../server/index.js";
import { defineCommand, type ParsedArgs } from "./args.js";
import type { CommandIO } from "./types.js";

/** The lines printed at start; dev default keys are shown so the SDK can be pointed at the server. */
export function startBanner(config: Config, url: string): string[] {
  const lines = [
    `skyflow serve: Skygear v1 server on ${url} (app ${config.appName}, schema ${appSchemaName(config.appName)})`,
  ];
  if (config.apiKey === DEV_API_KEY) lines.push(`  API key (development default): ${DEV_API_KEY}`);
  if (config.masterKey === DEV_MASTER_KEY)
    lines.push(`  master key (development default): ${DEV_MASTER_KEY}`);
  if (config.devKeys)
    lines.push("  pass --api-key/--master-key (or SKYGEAR_API_KEY/SKYGEAR_MASTER_KEY) for real keys");
  return lines;
}

const ARGS = {
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "app-name": { type: "string" },
    "api-key": { type: "string" },
    "master-key": { type: "string" },
  },
} as const;

async function run(io: CommandIO, { values: flags }: ParsedArgs<typeof ARGS.options>): Promise<number> {
  const config = loadConfig(io.env, flags);
  checkKeysFor("serve", config);
  const log = createLogger({ level: config.logLevel, destination: io.stderr, secrets: secretsOf(config) });
  const db = await openDatabase(config, log);
  const handler = createSkygearHandler({
    pool: db.pool,
    config: {
      appName: config.appName,
      schema: appSchemaName(config.appName),
      apiKey: config.apiKey,
      masterKey: config.masterKey,
      limits: config.serverLimits,
    },
    log,
  });
  let server: Awaited<ReturnType<typeof startSkygearServer>>;
  try {
    await handler.ready();
    server = await startSkygearServer({ handler, host: config.host, port: config.port });
  } catch (err) {
    await handler.close();
    await db.close();
    throw err;
  }
  io.stdout.write(`${startBanner(config, server.url).join("\n")}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      io.stdout.write("skyflow serve: stopping\n");
      resolve();
    };
    io.onSignal("SIGINT", stop);
    io.onSignal("SIGTERM", stop);
  });
  await server.close();
  await handler.close();
  await db.close();
  return 0;
}

export const command = defineCommand({
  name: "serve",
  summary: "run the Skygear-compatible development server",
  details:
    "env: PORT, SKYFLOW_HOST, SKYGEAR_APP_NAME, SKYGEAR_API_KEY, SKYGEAR_MASTER_KEY, DATABASE_URL (else an embedded Postgres); the development keys are served on loopback only",
  usage:
    "skyflow serve [--port 3000] [--host 127.0.0.1] [--app-name NAME] [--api-key KEY] [--master-key KEY]",
  args: ARGS,
  run,
});
