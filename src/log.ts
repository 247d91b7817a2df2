// The logger: pino everywhere; JSON in production, pretty text under `skyflow dev`. Secrets are redacted by the
// rule of everything stored (errors.ts).
import { type LogFn, type Logger, pino } from "pino";
import { redact } from "./errors.js";

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
  /** Values never written: the keys and the database password (config.ts secretsOf). */
  secrets?: readonly string[];
}

/**
 * Every line goes through the one redaction rule of everything skyflow stores or shows (errors.ts redact):
 * fields named like credentials at any depth, and the configured secrets wherever they appear, in the
 * message and in errors (their message and stack) too.
 */
function redaction(secrets: readonly string[], mute?: (args: unknown[]) => boolean) {
  const scrub = (o: Record<string, unknown>) => redact(o, secrets) as Record<string, unknown>;
  return {
    formatters: { log: scrub, bindings: scrub },
    serializers: {
      err: (e: unknown) =>
        e instanceof Error ? scrub({ ...pino.stdSerializers.err(e) }) : scrub({ err: e }).err,
    },
    hooks: {
      logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number) {
        if (mute && level >= 40 && mute(args)) return;
        const [first] = args as unknown[];
        // The common call, log.info(fields, message) (one per run as it ends): no arrays made for it.
        const fields = args.length === 2 && typeof first === "object" && first !== null;
        if (fields && typeof args[1] === "string" && !(first instanceof Error)) {
          (method as (...a: unknown[]) => void).call(this, first, redact(args[1], secrets));
          return;
        }
        // log.error(err) takes err.message as its message: give it redacted.
        const all =
          first instanceof Error && typeof args[1] !== "string"
            ? [first, first.message, ...args.slice(1)]
            : args;
        (method as (...a: unknown[]) => void).apply(
          this,
          (all as unknown[]).map((a) => (typeof a === "string" ? redact(a, secrets) : a)),
        );
      },
    },
  };
}

export function createLogger(opts: LogOptions = {}): Logger {
  const options = { level: opts.level ?? "info", ...redaction(opts.secrets ?? [], opts.mute) };
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
  if (!opts.destination) return pino(options);
  const d = opts.destination;
  return pino(options, d === process.stdout || d === process.stderr ? coalesced(d) : d);
}

/**
 * The process's stdout or stderr, written at most every FLUSH_MS (and at once past FLUSH_LINES lines): the
 * lines logged meanwhile go out in one write. A pipe's write is a system call, synchronous on Linux, and
 * wakes whoever reads the pipe: a daemon draining a backlog logs a few lines per run, many runs ending in
 * the same turn; one taking changes one at a time (100 a second) ends each run in a turn of its own, and
 * wrote a line per turn. Lines still pending when the process exits are written then, in order (a killed
 * process loses those of its last FLUSH_MS).
 */
const FLUSH_MS = 50;
const FLUSH_LINES = 256;
const coalescers = new Map<NodeJS.WritableStream, { write(s: string): boolean }>();

function coalesced(out: NodeJS.WritableStream): { write(s: string): boolean } {
  const known = coalescers.get(out);
  if (known) return known;
  let pending: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    out.write(text);
  };
  process.once("exit", flush);
  const c = {
    write(s: string) {
      pending.push(s);
      if (pending.length >= FLUSH_LINES) flush();
      else if (!timer) {
        timer = setTimeout(flush, FLUSH_MS);
        // The process may end meanwhile: the exit handler writes what is pending.
        timer.unref();
      }
      return true;
    },
  };
  coalescers.set(out, c);
  return c;
}

/** A logger that drops everything; the default in tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
