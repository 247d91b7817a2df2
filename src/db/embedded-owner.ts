// Who owns the embedded Postgres of a state directory. The process that started the server writes
// <dir>/pg.owner; another skyflow in the same directory (`pushes`, `trigger`, `runs` beside a running `dev`)
// attaches to a server whose owner is alive, and only a server whose owner is gone (killed with SIGKILL)
// is an orphan to shut down before a fresh start.
import { readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SkyflowError } from "../errors.js";

interface OwnerFile {
  /** The skyflow process that started the server. */
  pid: number;
  /** The server's postmaster. */
  postmaster: number;
}

/** The server running on a data directory, and whether a live skyflow owns it. */
export interface RunningServer {
  pid: number;
  /** The owning skyflow's pid; undefined for an orphan. */
  owner?: number;
}

export async function runningServer(stateDir: string, dataDir: string): Promise<RunningServer | undefined> {
  const pid = await postmasterPid(dataDir);
  if (pid === undefined || !alive(pid)) return undefined;
  const owner = await readOwner(stateDir);
  if (!owner || owner.postmaster !== pid || !alive(owner.pid)) return { pid };
  // After the owner died its pid may have been reused: on Linux the server's parent tells for sure.
  const parent = parentPid(pid);
  return parent === undefined || parent === owner.pid ? { pid, owner: owner.pid } : { pid };
}

export async function writeOwner(stateDir: string, postmaster: number): Promise<void> {
  const owner: OwnerFile = { pid: process.pid, postmaster };
  await writeFile(join(stateDir, "pg.owner"), JSON.stringify(owner), { mode: 0o600 });
}

/** Removes the owner file if it is still this process's (a later owner's file is left alone). */
export async function clearOwner(stateDir: string): Promise<void> {
  const owner = await readOwner(stateDir);
  if (owner?.pid === process.pid) await rm(join(stateDir, "pg.owner"), { force: true });
}

/** Asks the server of an orphan for a fast shutdown, and waits. */
export async function stopOrphan(server: RunningServer, dataDir: string, timeoutMs = 15_000): Promise<void> {
  process.kill(server.pid, "SIGINT");
  const deadline = Date.now() + timeoutMs;
  while (alive(server.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(server.pid)) {
    throw new SkyflowError(
      "DB_ERROR",
      `the Postgres server of ${dataDir} (pid ${server.pid}), left by a skyflow that is gone, did not stop within ${timeoutMs / 1000} s; stop it by hand (kill ${server.pid})`,
    );
  }
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(
      (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]!,
      10,
    );
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function readOwner(stateDir: string): Promise<OwnerFile | undefined> {
  try {
    const o = JSON.parse(await readFile(join(stateDir, "pg.owner"), "utf8")) as OwnerFile;
    return Number.isInteger(o.pid) && Number.isInteger(o.postmaster) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** The parent of `pid` from /proc (Linux); undefined where there is no /proc. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
