// Hot reload against real files in a temporary directory and a real chokidar watcher: edits swap in, broken
// files keep the last good version, deletes and renames are handled, and SIGHUP-style full reloads work.
import { mkdtemp, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadOneFile } from "../../src/daemon-adapters.js";
import { LiveCatalog } from "../../src/engine/catalog.js";
import { type Reloader, startReloader } from "../../src/engine/reload.js";
import { silentLogger } from "../../src/log.js";
import { capturedLogger } from "../helpers/log.js";
import { waitFor } from "../helpers/wait.js";

let dir: string;
let reloader: Reloader | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "skyflow-reload-"));
});
afterEach(async () => {
  await reloader?.close();
  reloader = undefined;
  await rm(dir, { recursive: true, force: true });
});

const workflow = (channel: string, extra = "") =>
  `${extra}on:\n  pubsub:\n    channel: ${channel}\nsteps:\n  - publish:\n      channel: out\n      data: {}\n`;

/** Resolves when `check` holds after a catalog change (or at once if it already does). */
function until(catalog: LiveCatalog, check: () => boolean, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error("condition not reached"));
    }, ms);
    const off = catalog.subscribe(() => {
      if (check()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

function channelOf(catalog: LiveCatalog, name: string): string | undefined {
  const t = catalog.get(name)?.triggers[0];
  return t?.kind === "pubsub" ? t.channel : undefined;
}

async function start(catalog: LiveCatalog, onApplied?: (latency: number | undefined) => void) {
  reloader = await startReloader({
    dir,
    catalog,
    load: (f) => loadOneFile(f),
    log: silentLogger(),
    onApplied: (_c, latency) => onApplied?.(latency),
  });
  return reloader;
}

describe("startReloader", () => {
  it("loads the directory at start and swaps in an edited file", async () => {
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    const catalog = new LiveCatalog();
    const latencies: (number | undefined)[] = [];
    await start(catalog, (l) => latencies.push(l));
    expect(channelOf(catalog, "a")).toBe("one");
    await writeFile(join(dir, "a.yaml"), workflow("two"));
    await until(catalog, () => channelOf(catalog, "a") === "two");
    await waitFor(() => latencies.length > 0);
    expect(latencies[0]).toBeGreaterThanOrEqual(0);
  });

  it("keeps the last good version of a broken file and records its problems with a location", async () => {
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    const catalog = new LiveCatalog();
    const applied: number[] = [];
    await start(catalog, () => applied.push(1));
    await writeFile(join(dir, "a.yaml"), "on: [\n");
    await waitFor(() => catalog.problems().size === 1);
    expect(channelOf(catalog, "a")).toBe("one");
    expect(catalog.status("a")).toBe("broken");
    const [p] = catalog.problems().get(join(dir, "a.yaml")) ?? [];
    expect(p?.line).toBeGreaterThan(0);
  });

  it("logs that a broken file's workflow is live again once the file is fixed as it was", async () => {
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    const catalog = new LiveCatalog();
    const { log, lines } = capturedLogger("info");
    reloader = await startReloader({ dir, catalog, load: (f) => loadOneFile(f), log });
    await writeFile(join(dir, "a.yaml"), "on: [\n");
    await waitFor(() => lines.some((l) => l.includes("has errors")));
    // Back to the text of the version still live: the catalog does not change.
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    await waitFor(() => catalog.problems().size === 0);
    const said = lines.map((l) => JSON.parse(l).msg as string);
    expect(said.filter((m) => m.includes("is fixed"))).toEqual([
      `${join(dir, "a.yaml")} is fixed: workflow a reloaded, live again`,
    ]);
    expect(catalog.status("a")).toBe("enabled");
  });

  it("stops a deleted workflow and follows a renamed file", async () => {
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    await writeFile(join(dir, "b.yaml"), workflow("bee"));
    const catalog = new LiveCatalog();
    await start(catalog);
    await unlink(join(dir, "b.yaml"));
    await until(catalog, () => catalog.get("b") === undefined);
    await rename(join(dir, "a.yaml"), join(dir, "c.yaml"));
    await until(catalog, () => catalog.get("a") === undefined && catalog.get("c") !== undefined);
    expect(catalog.list().map((d) => d.name)).toEqual(["c"]);
  });

  it("ends on the last of two saves made within chokidar's 50 ms change throttle", async () => {
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    const catalog = new LiveCatalog();
    await start(catalog);
    for (let round = 0; round < 3; round++) {
      await writeFile(join(dir, "a.yaml"), workflow(`quick${round}`));
      await new Promise((r) => setTimeout(r, 15));
      await writeFile(join(dir, "a.yaml"), workflow(`final${round}`));
      await until(catalog, () => channelOf(catalog, "a") === `final${round}`);
    }
  });

  it("ignores files that are not YAML", async () => {
    const catalog = new LiveCatalog();
    await start(catalog);
    await writeFile(join(dir, "notes.txt"), "hello");
    await writeFile(join(dir, "x.yml"), workflow("x"));
    await until(catalog, () => catalog.get("x") !== undefined);
    expect(catalog.list()).toHaveLength(1);
  });

  it("reloadAll picks up changes made while nothing watched", async () => {
    await writeFile(join(dir, "a.yaml"), workflow("one"));
    const catalog = new LiveCatalog();
    const r = await start(catalog);
    const change = await r.reloadAll();
    expect(change.updated).toEqual([]);
    await r.close();
    await writeFile(join(dir, "a.yaml"), workflow("two"));
    const fresh = await r.reloadAll();
    expect(fresh.updated).toEqual(["a"]);
  });
});
