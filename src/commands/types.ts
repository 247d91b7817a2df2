// What a CLI command receives. Commands never read process.env or call process.exit: cli.ts does.
import type { Writable } from "node:stream";

export interface CommandIO {
  /** Arguments after the command name. */
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: Writable;
  stderr: Writable;
  /** Registers what a signal should do; long-running commands (dev, start, serve) use it. */
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", fn: () => void): void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Resolves with the exit code. */
  run(io: CommandIO): Promise<number>;
}
