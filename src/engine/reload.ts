// Hot reload: a chokidar watcher on the workflows directory. Events are batched for a few milliseconds, each
// touched file is validated by the loader, and the batch is swapped into the catalog at once (a rename's
// unlink and add land together). Broken files keep their last good version; their problems are logged.
import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FSWatcher } from "chokidar";
import { formatProblem } from "../errors.js";
import type { Logger } from "../log.js";
import type { CatalogChange, FileResult, LiveCatalog } from "./catalog.js";
import { WORKFLOW_FILE } from "./definition/load.js";
import type { WorkflowDefinition } from "./definition/types.js";

export interface ReloadOptions {
  dir: string;
  catalog: LiveCatalog;
  /** Loads and validates one file (the definition loader). */
  load: (file: string) => Promise<FileResult>;
  log: Logger;
  /** Runs before a batch goes live, e.g. to store new versions so runs can start on them. */
  beforeApply?: (defs: WorkflowDefinition[]) => Promise<void>;
  /** Called after each applied batch with the write-to-live latency of its newest file. */
  onApplied?: (change: CatalogChange, latencyMs: number | undefined) => void;
  /** Watch the directory (dev); without it only reloadAll (start, SIGHUP) changes the catalog. */
  watch?: boolean;
  /** Quiet time that closes a batch; small, because the target is write-to-live under 100 ms. */
  debounceMs?: number;
  now?: () => number;
}

export interface Reloader {
  /** Reloads every file of the directory (start, SIGHUP). */
  reloadAll(): Promise<CatalogChange>;
  close(): Promise<void>;
}

/**
 * chokidar drops a file's `change` event that comes within 50 ms of the previous one (no trailing event),
 * so a second quick save, or the write after a truncate, can go unseen. After each load the file is looked
 * at once more past that window, and loaded again if it changed since.
 */
const RECHECK_MS = 60;

interface Pending {
  removed: boolean;
  mtimeMs?: number;
}

/** Loads the directory into the catalog, then watches it. */
export async function startReloader(opts: ReloadOptions): Promise<Reloader> {
  // Paths stay as given (relative to the working directory), so problems read `workflows/x.yaml:3:5`.
  const dir = opts.dir;
  const now = opts.now ?? Date.now;
  const pending = new Map<string, Pending>();
  const rechecks = new Set<NodeJS.Timeout>();
  const logged = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  const applyBatch = async (
    results: FileResult[],
    removed: string[],
    full: boolean,
  ): Promise<CatalogChange> => {
    const defs = results.flatMap((r) => (r.workflow ? [r.workflow] : []));
    if (opts.beforeApply && defs.length) await opts.beforeApply(defs);
    const change = full ? opts.catalog.replaceAll(results) : opts.catalog.apply(results, removed);
    const problems = opts.catalog.problems();
    // A file logged as broken that loads now: say its workflow is live again (its text may equal the last
    // good version, which changes nothing in the catalog and so would log nothing).
    const fixed = results.filter((r) => r.workflow && logged.has(r.file) && !problems.has(r.file));
    for (const f of logged.keys()) if (!problems.has(f)) logged.delete(f);
    logChange(opts.log, change, logged, fixed, opts.catalog);
    return change;
  };

  const flush = async (): Promise<void> => {
    const batch = [...pending];
    pending.clear();
    if (closed || batch.length === 0) return;
    const removed = batch.filter(([, e]) => e.removed).map(([f]) => f);
    const changed = batch.filter(([, e]) => !e.removed);
    const seen = await Promise.all(changed.map(([f]) => fileStamp(f)));
    const results = await Promise.all(changed.map(([f]) => loadSafely(opts.load, f)));
    const change = await applyBatch(results, removed, false);
    for (const [i, [f]] of changed.entries()) recheck(f, seen[i]);
    const newest = Math.max(...changed.map(([, e]) => e.mtimeMs ?? 0));
    opts.onApplied?.(change, newest > 0 ? now() - newest : undefined);
  };

  const recheck = (file: string, stamp: string | undefined) => {
    const t = setTimeout(async () => {
      rechecks.delete(t);
      const current = await fileStamp(file);
      if (!closed && current !== undefined && current !== stamp && !pending.has(file)) schedule(file, false);
    }, RECHECK_MS);
    rechecks.add(t);
  };

  const schedule = (file: string, removed: boolean, mtimeMs?: number) => {
    if (!WORKFLOW_FILE.test(file)) return;
    pending.set(file, { removed, mtimeMs });
    clearTimeout(timer);
    timer = setTimeout(() => {
      chain = chain.then(flush).catch((err) => opts.log.error({ err }, "workflow reload failed"));
    }, opts.debounceMs ?? 5);
  };

  const reloadAll = (): Promise<CatalogChange> => {
    const run = chain.then(async () => {
      const files = await listWorkflowFiles(dir);
      const results = await Promise.all(files.map((f) => loadSafely(opts.load, f)));
      return applyBatch(results, [], true);
    });
    chain = run.catch(() => {});
    return run;
  };

  await reloadAll();
  if (opts.watch === false) {
    return {
      reloadAll,
      async close() {
        closed = true;
        await chain.catch(() => {});
      },
    };
  }
  // Under `dev` a missing directory is created, so the first file written to it is picked up.
  await mkdir(dir, { recursive: true });
  // chokidar is loaded only to watch (dev): `start` reloads on SIGHUP alone.
  const { watch } = await import("chokidar");
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    depth: 0,
    alwaysStat: true,
    ignored: (path, stats) => Boolean(stats?.isFile() && !WORKFLOW_FILE.test(path)),
  });
  watcher.on("add", (f, st) => schedule(f, false, st?.mtimeMs));
  watcher.on("change", (f, st) => schedule(f, false, st?.mtimeMs));
  watcher.on("unlink", (f) => schedule(f, true));
  watcher.on("error", (err) => opts.log.error({ err }, "workflow watcher error"));
  await new Promise<void>((r) => watcher.once("ready", () => r()));

  return {
    reloadAll,
    async close() {
      closed = true;
      clearTimeout(timer);
      await watcher.close();
      await chain.catch(() => {});
    },
  };
}

export async function listWorkflowFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  return names
    .filter((n) => WORKFLOW_FILE.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/** mtime and size, taken before a load: a later difference means a write the load may not have seen. */
async function fileStamp(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return undefined;
  }
}

/** A loader that throws (unreadable file, a bug) becomes a problem of that file, never a dead watcher. */
async function loadSafely(load: ReloadOptions["load"], file: string): Promise<FileResult> {
  try {
    return await load(file);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { file, problems: [{ file, line: 1, column: 1, path: "", message }] };
  }
}

/** Logs what changed; a broken file's problems are logged once until they change or the file is fixed. */
function logChange(
  log: Logger,
  change: CatalogChange,
  logged: Map<string, string>,
  fixed: FileResult[],
  catalog: LiveCatalog,
): void {
  const again = new Set<string>();
  for (const r of fixed) {
    const name = r.workflow!.name;
    again.add(name);
    log.info({ workflow: name, file: r.file }, `${r.file} is fixed: workflow ${name} reloaded, live again`);
  }
  for (const name of change.added) {
    if (!again.has(name)) log.info({ workflow: name }, `workflow ${name} loaded`);
  }
  for (const name of change.updated) {
    if (!again.has(name)) log.info({ workflow: name }, `workflow ${name} reloaded`);
  }
  // Steps acting as master, or as a user a pubsub message names: allowed, and said once per version.
  for (const name of [...change.added, ...change.updated]) {
    const warnings = catalog.get(name)?.warnings ?? [];
    if (warnings.length > 0) log.warn({ workflow: name }, warnings.map(formatProblem).join("\n"));
  }
  for (const name of change.removed) log.info({ workflow: name }, `workflow ${name} removed`);
  for (const b of change.broken) {
    const text = b.problems.map(formatProblem).join("\n");
    if (logged.get(b.file) === text) continue;
    logged.set(b.file, text);
    const keep = b.kept ? `; keeping the last good version of ${b.kept}` : "";
    log.error({ file: b.file, problems: b.problems.length }, `${b.file} has errors${keep}:\n${text}`);
  }
}
