// The embedded Postgres for machines without one: data under <dir>/pg, reused across starts. A server that
// a live skyflow started in the same directory is shared (attached to, never stopped); one left running by
// a skyflow killed with SIGKILL is shut down before a fresh start that this process owns.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { SkyflowError } from "../errors.js";
import { postgresBinaries, postgresUser, reachableByOthers, SHARED_DIR } from "./embedded-binaries.js";
import { clearOwner, runningServer, stopOrphan, writeOwner } from "./embedded-owner.js";
import { initdb, spawnPostgres } from "./embedded-server.js";

export interface EmbeddedPostgres {
  /** postgres://… URL of database `skyflow` on 127.0.0.1. */
  url: string;
  port: number;
  /** When another skyflow's server was running there: that process's pid (this one will not stop it). */
  attachedTo?: number;
  /** Fast shutdown of the server this process started (nothing for an attached one); safe to call twice. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** The state directory, `.skyflow` in the working directory by default. */
  dir: string;
  onLog?: (line: string) => void;
  /** Fail rather than move to another port when the saved one is taken (a restart under a live pool). */
  samePort?: boolean;
}

interface State {
  port: number;
  password: string;
}

const DATABASE = "skyflow";

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  await mkdir(opts.dir, { recursive: true });
  const dataDir = await dataDirectory(opts.dir);
  const state = await loadState(opts.dir);
  const urlOf = (s: State) => `postgres://postgres:${encodeURIComponent(s.password)}@127.0.0.1:${s.port}`;
  const running = await runningServer(opts.dir, dataDir);
  if (running?.owner !== undefined) {
    // Its owner saved the port it listens on before starting it.
    const stop = async () => {};
    return { url: `${urlOf(state)}/${DATABASE}`, port: state.port, attachedTo: running.owner, stop };
  }
  if (running) await stopOrphan(running, dataDir);
  if (!(await portIsFree(state.port))) {
    if (opts.samePort) {
      throw new SkyflowError(
        "DB_ERROR",
        `port ${state.port} of the embedded Postgres is taken by another program`,
      );
    }
    state.port = await freePort();
    await saveState(opts.dir, state);
  }
  const [bin, runAs] = await Promise.all([postgresBinaries(), postgresUser()]);
  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
    await initdb({ bin, runAs, dataDir, password: state.password, onLog: opts.onLog });
  }
  // No unix socket: only loopback TCP, so nothing collides with a system Postgres.
  const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  const server = await spawnPostgres({ bin, runAs, dataDir, port: state.port, flags, onLog: opts.onLog });
  await writeOwner(opts.dir, server.pid);
  const base = urlOf(state);
  await ensureDatabase(`${base}/postgres`);
  let stopped = false;
  return {
    url: `${base}/${DATABASE}`,
    port: state.port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await clearOwner(opts.dir);
    },
  };
}

/**
 * `<dir>/pg`. As root, Postgres runs as user postgres, which must be able to reach the directory; when an
 * ancestor is closed to others (a home directory of mode 0700, a mkdtemp folder), the data lives under
 * /var/lib/skyflow instead and `<dir>/pg` is a symbolic link to it.
 */
async function dataDirectory(dir: string): Promise<string> {
  const link = join(dir, "pg");
  if (userInfo().uid !== 0 || (await reachableByOthers(resolve(dir)))) return link;
  const real = join(SHARED_DIR, `pg-${createHash("sha256").update(resolve(dir)).digest("hex").slice(0, 16)}`);
  await mkdir(SHARED_DIR, { recursive: true, mode: 0o755 });
  const current = await readlink(link).catch(() => undefined);
  if (current !== real) {
    await rm(link, { force: true, recursive: false }).catch(() => {});
    await symlink(real, link);
  }
  return real;
}

async function loadState(dir: string): Promise<State> {
  const file = join(dir, "pg.json");
  try {
    const s = JSON.parse(await readFile(file, "utf8")) as State;
    if (typeof s.port === "number" && typeof s.password === "string") return s;
  } catch {
    // first start, or an unreadable file: make a new one
  }
  const s = { port: await freePort(), password: randomBytes(12).toString("hex") };
  await saveState(dir, s);
  return s;
}

async function saveState(dir: string, s: State): Promise<void> {
  await writeFile(join(dir, "pg.json"), JSON.stringify(s), { mode: 0o600 });
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const r = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (r.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
