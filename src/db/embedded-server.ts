// The embedded Postgres's processes: initdb for a new data directory, then the server itself, in a process
// group of its own: a terminal's Ctrl-C reaches skyflow, which drains its runs and then stops the database,
// rather than killing both at once.
import { type ChildProcess, spawn } from "node:child_process";
import { chown, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SkyflowError } from "../errors.js";
import type { Binaries, RunAs } from "./embedded-binaries.js";

export interface PostgresProcess {
  pid: number;
  /** Fast shutdown (SIGINT), waiting for the process to exit. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves when the server exits, whoever stopped it. */
  exited: Promise<void>;
}

export interface SpawnOptions {
  bin: Binaries;
  runAs?: RunAs;
  dataDir: string;
  port: number;
  flags: string[];
  onLog?: (line: string) => void;
}

/** A new cluster in `dataDir` with superuser postgres and that password (password authentication). */
export async function initdb(o: {
  bin: Binaries;
  runAs?: RunAs;
  dataDir: string;
  password: string;
  onLog?: (line: string) => void;
}): Promise<void> {
  // Beside the data directory, where user postgres can read it (not in a shared /tmp), and gone after.
  const pwfile = join(dirname(o.dataDir), `.pwfile-${process.pid}`);
  await writeFile(pwfile, `${o.password}\n`, { mode: 0o600 });
  if (o.runAs) await chown(pwfile, o.runAs.uid, o.runAs.gid);
  try {
    const args = [`--pgdata=${o.dataDir}`, "--auth=password", "--username=postgres", `--pwfile=${pwfile}`];
    // Messages in English: the server's readiness is read from its log. UTF-8 whatever the locale says.
    args.push("--encoding=UTF8", "--lc-messages=C");
    const child = spawn(o.bin.initdb, args, { ...o.runAs, stdio: ["ignore", "pipe", "pipe"], env: pgEnv() });
    let output = "";
    const collect = (c: Buffer) => {
      output += c.toString("utf8");
      o.onLog?.(c.toString("utf8"));
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c));
    });
    if (code !== 0) {
      throw new SkyflowError("DB_ERROR", `initdb of ${o.dataDir} failed (exit ${code}): ${output.trim()}`);
    }
  } finally {
    await rm(pwfile, { force: true });
  }
}

export async function spawnPostgres(opts: SpawnOptions): Promise<PostgresProcess> {
  const child = spawn(opts.bin.postgres, ["-D", opts.dataDir, "-p", String(opts.port), ...opts.flags], {
    ...opts.runAs,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: pgEnv(),
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitReady(child, opts.onLog);
  // The server must not keep skyflow's event loop alive; stop() is called on every orderly exit.
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    pid: child.pid!,
    exited,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGQUIT"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function pgEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_MESSAGES: "C" };
}

function waitReady(child: ChildProcess, onLog?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      onLog?.(text);
      tail = (tail + text).slice(-4000);
      if (tail.includes("database system is ready to accept connections")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      reject(
        new SkyflowError(
          "DB_ERROR",
          `the embedded Postgres exited during start (${code ?? signal}): ${tail.trim()}`,
        ),
      ),
    );
  });
}
