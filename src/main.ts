// Composition root of the daemon (`dev`, `start`): config -> database -> Skygear (embedded server or an
// endpoint) -> container + pubsub -> catalog + reload -> engine -> triggers -> HTTP endpoints; and the
// signals: SIGHUP reloads, SIGTERM/SIGINT stop gracefully, a second one exits at once.

import { exitNow } from "./cli.js";
import { collectGarbage } from "./collect-garbage.js";
import type { ArgSpec, OptionSpecs, ParsedArgs } from "./commands/args.js";
import type { CommandIO } from "./commands/types.js";
import { type Config, exposedEnv, loadConfig, secretsOf } from "./config.js";
import { checkKeysFor } from "./config-checks.js";
import { type Daemon, openDaemon, ShutdownIncomplete } from "./daemon.js";
import { DatabaseOutage } from "./db/health.js";
import { lowerHelperThreads } from "./helper-threads.js";
import { createLogger, type Logger } from "./log.js";
import { tierUpSooner } from "./tier-up.js";

export type Mode = "dev" | "start";

/** The flags of `dev` and `start`, and one positional directory. */
export const DAEMON_ARGS = {
  options: {
    port: { type: "string" },
    "app-name": { type: "string" },
    "api-key": { type: "string" },
    "master-key": { type: "string" },
    "http-port": { type: "string" },
    host: { type: "string" },
    dir: { type: "string" },
  },
  positionals: { max: 1 },
} as const satisfies ArgSpec<OptionSpecs>;

/** Runs the daemon until a signal stops it; resolves with the exit code. */
export async function runDaemon(
  io: CommandIO,
  mode: Mode,
  args: ParsedArgs<(typeof DAEMON_ARGS)["options"]>,
): Promise<number> {
  const { dir: dirFlag, ...flags } = args.values;
  const config = loadConfig(io.env, { ...flags, dir: args.positionals[0] ?? dirFlag });
  checkKeysFor(mode, config);
  const outage = new DatabaseOutage();
  const log = daemonLogger(mode, config, io, outage);
  let daemon: Daemon;
  try {
    daemon = await openDaemon({
      mode,
      config,
      log,
      exposed: exposedEnv(io.env, config.envAllow),
      httpPort: httpPortFor(mode, config, io.env.SKYFLOW_HTTP_PORT ?? args.values["http-port"]),
      outage,
    });
  } catch (err) {
    // `start` also says it as a JSON line, for whatever collects its logs.
    const message = err instanceof Error ? err.message : String(err);
    if (mode === "start") log.fatal({ err: message }, "skyflow could not start");
    io.stderr.write(`skyflow ${mode}: ${message}\n`);
    return 1;
  }
  if (mode === "dev") io.stdout.write(daemon.banner());
  else log.info(daemon.summary(), "skyflow started");
  // The start's garbage collected now, not by the collections of the first changes (collect-garbage.ts).
  collectGarbage();
  // From here on V8 optimizes a change's path sooner (tier-up.ts); the start's own code is behind it. Its
  // compiling, on V8's helper threads, gives way to the daemon's own thread and to Postgres (helper-threads.ts).
  tierUpSooner();
  if (config.helperNice > 0) {
    const threads = lowerHelperThreads(config.helperNice);
    log.debug({ threads, nice: config.helperNice }, "helper threads lowered");
  }
  return waitForSignals(io, daemon, log);
}

/**
 * `start` logs JSON lines. `dev` logs one readable line per event: the message already names the run, the
 * workflow and the step, so the structured fields are left out of the pretty output.
 */
function daemonLogger(mode: Mode, config: Config, io: CommandIO, outage: DatabaseOutage): Logger {
  const mute = (args: unknown[]) => outage.mute(args);
  const secrets = secretsOf(config);
  if (mode === "start")
    return createLogger({ level: config.logLevel, destination: io.stdout, mute, secrets });
  return createLogger({
    level: config.logLevel,
    mute,
    secrets,
    pretty: true,
    prettyOptions: {
      colorize: Boolean((io.stdout as { isTTY?: boolean }).isTTY),
      ignore: "pid,hostname,workflow,run,step,attempt,durationMs,file,problems,paused,component,url",
    },
  });
}

/**
 * `start` serves the endpoints on SKYFLOW_HTTP_PORT (0 = off). `dev` always serves them: on
 * SKYFLOW_HTTP_PORT or --http-port when given, else on the port after the Skygear server's (any free port
 * when PORT is 0).
 */
function httpPortFor(mode: Mode, config: Config, given: string | undefined): number | undefined {
  if (mode === "start") return config.httpPort > 0 ? config.httpPort : undefined;
  if (given) return config.httpPort > 0 ? config.httpPort : undefined;
  return config.port > 0 && !config.skygearEndpoint ? config.port + 1 : 0;
}

function waitForSignals(io: CommandIO, daemon: Daemon, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => () => {
      if (stopping) {
        log.warn(`${signal} again: exiting at once`);
        exitNow(1);
      }
      stopping = true;
      log.info(`${signal}: stopping intake, letting runs in flight finish`);
      daemon.stop().then(
        () => resolve(0),
        (err) => {
          if (err instanceof ShutdownIncomplete) {
            // What was left behind holds connections open, and the process would not end by itself. Runs
            // not checkpointed resume on another engine (or the next start) once their leases run out.
            log.error({ parts: err.parts }, `${err.message}; exiting`);
            exitNow(1);
          }
          log.error({ err }, "shutdown failed");
          resolve(1);
        },
      );
    };
    io.onSignal("SIGTERM", stop("SIGTERM"));
    io.onSignal("SIGINT", stop("SIGINT"));
    io.onSignal("SIGHUP", () => {
      if (stopping) return;
      log.info("SIGHUP: reloading every workflow file");
      daemon.reload().catch((err) => log.error({ err }, "reload failed"));
    });
  });
}
