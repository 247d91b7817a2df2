// Starts `skyflow <command>` as a child process (from the sources through tsx, or a given script) in a
// directory of its own, collects its output, and stops it with a signal.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = `${ROOT}node_modules/tsx/dist/loader.mjs`;
const ENTRY = `${ROOT}test/e2e/fixtures/cli-entry.ts`;

/** Keys for `skyflow start`, which refuses the public development keys. */
export const START_KEYS = {
  SKYGEAR_API_KEY: "e2e-start-api-key",
  SKYGEAR_MASTER_KEY: "e2e-start-master-key",
};

export interface Child {
  proc: ChildProcess;
  output(): string;
  /** Resolves once the output matches (after `from`, an offset into the output). */
  waitFor(pattern: RegExp | string, timeoutMs?: number, from?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export function startCli(
  args: string[],
  opts: { cwd: string; env: Record<string, string>; script?: string[] },
): Child {
  const argv = opts.script ? [...opts.script, ...args] : ["--import", TSX, ENTRY, ...args];
  const proc = spawn(process.execPath, argv, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c) => {
    out += c;
  });
  proc.stderr!.on("data", (c) => {
    out += c;
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const waitFor = async (pattern: RegExp | string, timeoutMs = 30_000, from = 0) => {
    const end = Date.now() + timeoutMs;
    const hit = () => {
      const tail = out.slice(from);
      return typeof pattern === "string" ? tail.includes(pattern) : pattern.test(tail);
    };
    while (!hit()) {
      if (proc.exitCode !== null)
        throw new Error(`skyflow exited (${proc.exitCode}) before ${pattern}:\n${out}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}; output so far:\n${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return {
    proc,
    output: () => out,
    waitFor,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** Polls `check` until it returns a value that is not undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`condition not reached${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
