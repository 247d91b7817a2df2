// A command run in-process, as the CLI runs it, with its output captured and its signal handlers kept for
// the test to fire.
import { PassThrough } from "node:stream";
import type { CommandIO } from "../../src/commands/types.js";

export interface Captured {
  io: CommandIO;
  out: () => string;
  err: () => string;
  signal: (name: "SIGINT" | "SIGTERM" | "SIGHUP") => void;
}

export function captureIO(
  argv: string[],
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): Captured {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => {
    out += c;
  });
  stderr.on("data", (c) => {
    err += c;
  });
  const handlers = new Map<string, (() => void)[]>();
  const io: CommandIO = {
    argv,
    env,
    cwd,
    stdout,
    stderr,
    onSignal(signal, fn) {
      handlers.set(signal, [...(handlers.get(signal) ?? []), fn]);
    },
  };
  return {
    io,
    out: () => out,
    err: () => err,
    signal: (name) => {
      for (const fn of handlers.get(name) ?? []) fn();
    },
  };
}

/** Runs `cmd` to its end: its exit code and what it wrote. */
export async function runCommand(
  cmd: { run(io: CommandIO): Promise<number> },
  argv: string[],
  env: Record<string, string | undefined>,
  cwd?: string,
): Promise<{ code: number; out: string; err: string }> {
  const c = captureIO(argv, env, cwd);
  const code = await cmd.run(c.io);
  return { code, out: c.out(), err: c.err() };
}
