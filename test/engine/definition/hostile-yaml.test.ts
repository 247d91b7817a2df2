// Hostile workflow files: alias bombs, merge bombs, deep nesting, huge files, quadratic mappings and odd keys.
// Each is refused with one problem at a file position (or loads as what it says), and none runs away: the
// test's own timeout is the bound (bench/definitions.ts prints how long each takes).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOneFile } from "../../../src/daemon-adapters.js";
import { LiveCatalog } from "../../../src/engine/catalog.js";
import { loadWorkflowDir, loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { DEFAULT_YAML_LIMITS } from "../../../src/engine/definition/yaml-limits.js";
import { startReloader } from "../../../src/engine/reload.js";
import { formatProblem } from "../../../src/errors.js";
import { silentLogger } from "../../../src/log.js";
import { hostileYaml } from "./hostile-cases.js";

const TAIL = "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: {} }\n";

function problems(text: string, maxBytes?: number): string[] {
  // As the daemon loads: with its (here empty) list of variables expressions may read.
  const r = loadWorkflowSource("h.yaml", text, { envAllow: [], ...(maxBytes ? { maxBytes } : {}) });
  return r.problems.map(formatProblem);
}

describe("hostile YAML", () => {
  it("refuses an alias bomb of 411 bytes (10^6 values) at the alias that asks for too much", () => {
    const ps = problems(hostileYaml.aliasBomb!);
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatch(/^h\.yaml:\d+:\d+: aliases and << merges expand to more than 10000 values/);
  });

  it("refuses a << merge bomb", () => {
    const ps = problems(hostileYaml.mergeBomb!);
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatch(/^h\.yaml:\d+:\d+: aliases and << merges expand to more than 10000 values/);
  });

  it("refuses deep flow nesting before the YAML parser recurses into it", () => {
    const ps = problems(`x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n${TAIL}`, 1 << 20);
    expect(ps).toEqual([
      `h.yaml:1:${4 + DEFAULT_YAML_LIMITS.maxDepth}: nested deeper than 64 levels; flatten the structure`,
    ]);
  });

  it("refuses deep block nesting, and deep nesting reached through an alias", () => {
    let deep = "x:\n";
    for (let i = 1; i <= 80; i++) deep += `${" ".repeat(i)}k${i}:\n`;
    expect(problems(deep + TAIL)[0]).toMatch(/^h\.yaml:\d+:\d+: nested deeper than 64 levels/);
    let nest = "a0: &a0 [1]\n";
    for (let i = 1; i <= 70; i++) nest += `a${i}: &a${i} [*a${i - 1}]\n`;
    expect(problems(nest + TAIL)[0]).toMatch(/^h\.yaml:\d+:\d+: nested deeper than 64 levels/);
  });

  it("refuses a file over the size limit, from text and from disk without reading it", async () => {
    const big = `${TAIL}description: "${"a".repeat(70_000)}"\n`;
    expect(problems(big)).toEqual([
      `h.yaml:1:1: the file is ${big.length} bytes, more than the limit of 65536 (SKYFLOW_WORKFLOW_MAX_BYTES); split it into several workflows`,
    ]);
    expect(problems(big, 1 << 20)).toEqual([]);
    const dir = await mkdtemp(join(tmpdir(), "skyflow-hostile-"));
    try {
      await writeFile(join(dir, "big.yaml"), big);
      const r = await loadWorkflowDir(dir, { maxBytes: 50_000 });
      expect(r.problems.map(formatProblem)[0]).toMatch(
        /big\.yaml:1:1: the file is \d+ bytes, more than the limit of 50000/,
      );
      expect((await loadOneFile(join(dir, "big.yaml"))).problems).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("loads a mapping of 30,000 keys in linear time and still finds a duplicate key", () => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `  k${i}: 1`).join("\n");
    expect(problems(`x-big:\n${keys}\n${TAIL}`, 1 << 20)).toEqual([]);
    expect(problems(`x-big:\n${keys}\n  k7: 2\n${TAIL}`, 1 << 20)).toEqual([
      "h.yaml:30002:3: x-big: YAML syntax error: Map keys must be unique; each key may appear once in a mapping",
    ]);
  });

  it("keeps a __proto__ key as a key, not a prototype", () => {
    const ps = problems(`${TAIL}__proto__: { polluted: true }\n`);
    expect(ps).toEqual([expect.stringMatching(/^h\.yaml:4:1: .*unknown key "__proto__"/)]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses every case of the hostile YAML corpus with a located problem", () => {
    for (const [name, text] of Object.entries(hostileYaml)) {
      const ps = problems(text);
      expect(ps.length, name).toBeGreaterThan(0);
      for (const p of ps) expect(p, name).toMatch(/^h\.yaml:\d+:\d+: /);
    }
  });
});

describe("hot reload of a hostile file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "skyflow-hostile-reload-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the last good version and reports the refusal", async () => {
    await writeFile(join(dir, "w.yaml"), TAIL);
    const catalog = new LiveCatalog();
    const reloader = await startReloader({ dir, catalog, load: (f) => loadOneFile(f), log: silentLogger() });
    try {
      expect(catalog.get("w")).toBeDefined();
      await writeFile(join(dir, "w.yaml"), hostileYaml.aliasBomb!);
      await reloader.reloadAll();
      expect(catalog.get("w")?.steps).toHaveLength(1);
      const [p] = [...catalog.problems().values()].flat();
      expect(formatProblem(p!)).toMatch(/w\.yaml:\d+:\d+: aliases and << merges expand/);
    } finally {
      await reloader.close();
    }
  });
});
