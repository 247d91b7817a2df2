// Hot reload latency: from the write of a workflow file to its new version being live in the catalog, with
// the real loader and a real chokidar watcher; next to the bare chokidar event latency and the loader's own
// time, measured in the same run. Run: npx tsx bench/reload.ts [edits]
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watch } from "chokidar";
import { loadOneFile } from "../src/daemon-adapters.js";
import { LiveCatalog } from "../src/engine/catalog.js";
import { startReloader } from "../src/engine/reload.js";
import { silentLogger } from "../src/log.js";

const EDITS = Number(process.argv[2] ?? 60);

const text = (i: number) => `name: bench
on:
  record:
    type: task
    events: [create, update]
    when: \${{ event.record.status == 'open' }}
steps:
  - id: review
    save:
      as: \${{ event.record._ownerID }}
      record:
        _id: review/\${{ uuid() }}
        note: edit ${i}
  - publish:
      channel: c${i}
      data: { id: "\${{ event.record._id }}", n: ${i} }
`;

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(2)} ms, p90 ${q(0.9).toFixed(2)} ms, max ${s[s.length - 1]!.toFixed(2)} ms (n=${s.length})`;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reloadLatency(dir: string, file: string): Promise<number[]> {
  const catalog = new LiveCatalog();
  const reloader = await startReloader({ dir, catalog, load: (f) => loadOneFile(f), log: silentLogger() });
  const out: number[] = [];
  try {
    for (let i = 1; i <= EDITS; i++) {
      const live = new Promise<number>((resolve) => {
        const off = catalog.subscribe(() => {
          if (catalog.get("bench")?.source.includes(`note: edit ${i}\n`)) {
            off();
            resolve(performance.now());
          }
        });
      });
      const t0 = performance.now();
      await writeFile(file, text(i));
      out.push((await live) - t0);
      await pause(100);
    }
  } finally {
    await reloader.close();
  }
  return out;
}

async function chokidarLatency(dir: string, file: string): Promise<number[]> {
  const watcher = watch(dir, { ignoreInitial: true, depth: 0 });
  await new Promise<void>((r) => watcher.once("ready", () => r()));
  const out: number[] = [];
  for (let i = 1; i <= EDITS; i++) {
    const seen = new Promise<number>((r) => watcher.once("change", () => r(performance.now())));
    const t0 = performance.now();
    await writeFile(file, text(i + 1000));
    out.push((await seen) - t0);
    await pause(100);
  }
  await watcher.close();
  return out;
}

async function loaderTime(file: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const t0 = performance.now();
    await loadOneFile(file);
    out.push(performance.now() - t0);
  }
  return out;
}

const dir = await mkdtemp(join(tmpdir(), "skyflow-bench-reload-"));
const file = join(dir, "bench.yaml");
await writeFile(file, text(0));
try {
  const loader = await loaderTime(file);
  const raw = await chokidarLatency(dir, file);
  const live = await reloadLatency(dir, file);
  console.log(`write -> live (watcher + loader + swap): ${stats(live)}`);
  console.log(`write -> chokidar change event alone:    ${stats(raw)}`);
  console.log(`loader on the same file:                 ${stats(loader)}`);
  const med = [...live].sort((a, b) => a - b)[Math.floor(live.length / 2)]!;
  console.log(`target: median under 100 ms -> ${med < 100 ? "met" : "NOT met"}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
