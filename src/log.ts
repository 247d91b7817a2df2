// The logger: pino everywhere; JSON in production, pretty text under `skyflow dev`. Secret fields are redacted.
import { type LogFn, type Logger, pino } from "pino";

export type { Logger };

export interface LogOptions {
  level?: string;
  pretty?: boolean;
  /** Where to write; defaults to stdout. Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
  /** Extra pino-pretty options (e.g. `ignore`, `colorize`) merged over the defaults when `pretty`. */
  prettyOptions?: Record<string, unknown>;
  /** Leaves out a warning or error for which this returns true (given the log call's arguments). */
  mute?: (args: unknown[]) => boolean;
}

const REDACT_PATHS = [
  "api_key",
  "master_key",
  "access_token",
  "password",
  "*.api_key",
  "*.master_key",
  "*.access_token",
  "*.password",
  "apiKey",
  "masterKey",
  "*.apiKey",
  "*.masterKey",
  'headers["x-skygear-api-key"]',
  'headers["x-skygear-access-token"]',
];

export function createLogger(opts: LogOptions = {}): Logger {
  const { mute } = opts;
  const options = {
    level: opts.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    ...(mute && {
      hooks: {
        logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number) {
          if (level >= 40 && mute(args)) return;
          method.apply(this, args);
        },
      },
    }),
  };
  if (opts.pretty) {
    return pino({
      ...options,
      transport: {
        target: "pino-pretty",
        options: {
          colorize: true,
          ignore: "pid,hostname",
          translateTime: "HH:MM:ss.l",
          ...opts.prettyOptions,
        },
      },
    });
  }
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything; the default in tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
