// argv -> command. With main.ts, the only reader of process.env and the only place that ends the process.

import { helpText } from "./commands/args.js";
import type { Command, CommandIO } from "./commands/types.js";
import { ConfigError } from "./errors.js";

type Loader = () => Promise<{ command: Command }>;

const COMMANDS: Record<string, Loader> = {
  dev: () => import("./commands/dev.js"),
  start: () => import("./commands/start.js"),
  serve: () => import("./commands/serve.js"),
  validate: () => import("./commands/validate.js"),
  test: () => import("./commands/test.js"),
  schema: () => import("./commands/schema.js"),
  trigger: () => import("./commands/trigger.js"),
  runs: () => import("./commands/runs.js"),
  workflows: () => import("./commands/workflows.js"),
  pause: () => import("./commands/pause.js"),
  resume: () => import("./commands/resume.js"),
  pushes: () => import("./commands/pushes.js"),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic === undefined) {
      (name ? process.stdout : process.stderr).write(await helpList());
      return name ? 0 : 2;
    }
    const one = COMMANDS[topic];
    if (!one) return unknownCommand(topic);
    process.stdout.write(helpText((await one()).command));
    return 0;
  }
  if (name === "--version" || name === "-v") {
    const { readFile } = await import("node:fs/promises");
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
    process.stdout.write(`skyflow ${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) return unknownCommand(name);
  const { command } = await load();
  const signals = new Map<string, (() => void)[]>();
  const io: CommandIO = {
    argv: rest,
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    onSignal(signal, fn) {
      if (!signals.has(signal)) {
        signals.set(signal, []);
        process.on(signal, () => {
          for (const f of signals.get(signal) ?? []) f();
        });
      }
      signals.get(signal)!.push(fn);
    },
  };
  try {
    return await command.run(io);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`skyflow: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

function unknownCommand(name: string): number {
  process.stderr.write(`skyflow: unknown command "${name}"; run \`skyflow help\` for the list\n`);
  return 2;
}

async function helpList(): Promise<string> {
  const lines = ["usage: skyflow <command> [options]", "", "commands:"];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const { command } = await load();
    lines.push(`  ${name.padEnd(10)} ${command.summary}`);
  }
  lines.push("", "`skyflow <command> --help` (or `skyflow help <command>`) shows a command's usage.");
  return `${lines.join("\n")}\n`;
}

/** Exits the process at once (a second SIGINT/SIGTERM during shutdown). */
export function exitNow(code: number): never {
  process.exit(code);
}
