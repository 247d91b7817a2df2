// A private Postgres 15 (the machine's binaries) in a temporary directory on a free port, which a fault test
// may stop and start at will: never the shared server on 5432. As root, it runs as user postgres.
import { execFile } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../e2e/child.js";

const run = promisify(execFile);
const BIN = process.env.SKYFLOW_FAULTS_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** Stops the server (`fast`: connections ended, a clean shutdown; `immediate`: as a crash) and starts it. */
  restart(mode: "fast" | "immediate", downMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "skyflow-faults-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(BIN, tool), ...args], { timeout: 60_000 })
      : run(join(BIN, tool), args, { timeout: 60_000 });
  const data = join(dir, "data");
  const port = await freePort();
  await pg("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c max_connections=200",
    "-c shared_buffers=32MB",
  ].join(" ");
  const start = () =>
    pg("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-o", opts, "-w", "-t", "60", "start"]);
  const stop = (mode: string) => pg("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart(mode, downMs) {
      await stop(mode);
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async close() {
      await stop("immediate").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
