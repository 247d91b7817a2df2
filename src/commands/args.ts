// The CLI's one argument parser and the command wrapper around it: `--name value`, `--name=value`, boolean
// flags, `--` ending the options, positionals counted, choices checked. `--help`/`-h` prints the usage and
// exits 0; a mistake prints the same kind of message for every command, with the usage, and exits 2.
import { ConfigError, SkyflowError } from "../errors.js";
import type { Command, CommandIO } from "./types.js";

export interface OptionSpec {
  type: "string" | "boolean";
  /** One letter, for `-x`. */
  short?: string;
  /** The only values a string option takes. */
  choices?: readonly string[];
}

export type OptionSpecs = Record<string, OptionSpec>;

export type Values<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string;
};

export interface ArgSpec<O extends OptionSpecs> {
  options: O;
  /** How many positional arguments the command takes (default none). */
  positionals?: {
    min?: number;
    max?: number /** For messages: `missing <workflow>`. */;
    names?: readonly string[];
  };
}

export interface ParsedArgs<O extends OptionSpecs> {
  values: Values<O>;
  positionals: string[];
  help: boolean;
}

/** The command line does not fit the command's usage: exit code 2, with the usage. */
export class UsageError extends SkyflowError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

export function parseCommandArgs<O extends OptionSpecs>(argv: string[], spec: ArgSpec<O>): ParsedArgs<O> {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec.options).flatMap(([n, o]) => (o.short ? [[o.short, n]] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") return { values: values as Values<O>, positionals, help: true };
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const raw = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : arg.slice(1);
    const name = arg.startsWith("--") ? raw : (byShort.get(raw) ?? "");
    const opt = spec.options[name];
    if (!opt) throw new UsageError(`unknown option ${arg.startsWith("--") ? `--${raw}` : arg}`);
    if (opt.type === "boolean") {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      values[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (opt.choices && !opt.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${opt.choices.join(", ")}; got "${value}"`);
    }
    values[name] = value;
  }
  const { min = 0, max = 0, names = [] } = spec.positionals ?? {};
  if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}"`);
  if (positionals.length < min) {
    throw new UsageError(
      `missing ${names[positionals.length] ? `<${names[positionals.length]}>` : "argument"}`,
    );
  }
  return { values: values as Values<O>, positionals, help: false };
}

/** A whole number from min to max given as flag `--name`, or `fallback` when the flag is absent. */
export function intFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number) {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}; got "${raw}"`);
  }
  return n;
}

export interface CommandDefinition<O extends OptionSpecs> {
  name: string;
  summary: string;
  /** `skyflow <name> ...`: one line per form. */
  usage: string;
  /** More for `--help` only: variables read, forms of the arguments. */
  details?: string;
  args: ArgSpec<O>;
  run(io: CommandIO, args: ParsedArgs<O>): Promise<number>;
}

/** A command whose arguments are parsed, and whose usage and configuration errors are reported, alike. */
export function defineCommand<O extends OptionSpecs>(def: CommandDefinition<O>): Command {
  return {
    name: def.name,
    summary: def.summary,
    usage: def.usage,
    async run(io) {
      try {
        const args = parseCommandArgs(io.argv, def.args);
        if (args.help) {
          io.stdout.write(helpText(def));
          return 0;
        }
        return await def.run(io, args);
      } catch (err) {
        if (err instanceof UsageError) {
          io.stderr.write(`skyflow ${def.name}: ${err.message}\n${usageText(def.usage)}`);
          return 2;
        }
        if (err instanceof ConfigError) {
          io.stderr.write(`skyflow ${def.name}: ${err.message}\n`);
          return 2;
        }
        throw err;
      }
    },
  };
}

export function usageText(usage: string): string {
  const [first, ...rest] = usage.split("\n");
  return `${[`usage: ${first}`, ...rest.map((l) => `       ${l}`)].join("\n")}\n`;
}

export function helpText(c: { summary: string; usage: string; details?: string }): string {
  return `${usageText(c.usage)}\n${c.summary}\n${c.details ? `${c.details}\n` : ""}`;
}
