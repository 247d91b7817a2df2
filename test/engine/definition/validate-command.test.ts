// `skyflow validate` and `skyflow schema` as a user runs them: exit codes, problem lines, summaries, JSON.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { command as schema } from "../../../src/commands/schema.js";
import type { CommandIO } from "../../../src/commands/types.js";
import { command as validate } from "../../../src/commands/validate.js";

function io(cwd: string, argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on("data", (d) => out.push(String(d)));
  stderr.on("data", (d) => err.push(String(d)));
  const x: CommandIO = { argv, env, cwd, stdout, stderr, onSignal() {} };
  return { io: x, out: () => out.join(""), err: () => err.join("") };
}

const GOOD =
  "on: { cron: { schedule: '@daily' } }\nsteps:\n  - publish: { channel: a }\n  - publish: { channel: b }\n";

describe("skyflow validate", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "skyflow-validate-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints one summary line per workflow of ./workflows and exits 0", async () => {
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "workflows"));
    await writeFile(join(dir, "workflows", "nightly.yaml"), GOOD);
    const t = io(dir, []);
    expect(await validate.run(t.io)).toBe(0);
    expect(t.out()).toBe('nightly: on cron "@daily" UTC; 2 steps\n1 workflow valid\n');
  });

  it("prints every problem with file:line:column and exits 1", async () => {
    await writeFile(
      join(dir, "a.yaml"),
      "on: { pubsub: { channel: x } }\nsteps:\n  - publsh: { channel: a }\n",
    );
    await writeFile(join(dir, "b.yaml"), GOOD);
    const t = io(dir, ["a.yaml", "b.yaml"]);
    expect(await validate.run(t.io)).toBe(1);
    expect(t.err()).toBe(
      ['a.yaml:3:5: steps[0].publsh: unknown key "publsh" (did you mean "publish"?)', "1 problem", ""].join(
        "\n",
      ),
    );
  });

  it("checks env names against SKYFLOW_ENV_ALLOW", async () => {
    await writeFile(
      join(dir, "e.yaml"),
      "on: { pubsub: { channel: x } }\nsteps:\n  - publish: { channel: '${{ env.REGION }}' }\n",
    );
    expect(await validate.run(io(dir, ["e.yaml"]).io)).toBe(1);
    expect(await validate.run(io(dir, ["e.yaml"], { SKYFLOW_ENV_ALLOW: "REGION" }).io)).toBe(0);
  });

  it("prints a JSON document with --format json", async () => {
    await writeFile(join(dir, "a.yaml"), GOOD);
    await writeFile(join(dir, "b.yaml"), "on: { pubsub: { channel: x } }\n");
    const t = io(dir, [".", "--format", "json"]);
    expect(await validate.run(t.io)).toBe(1);
    const doc = JSON.parse(t.out());
    expect(doc.ok).toBe(false);
    expect(doc.workflows).toEqual([
      { name: "a", file: "a.yaml", enabled: true, triggers: ["cron"], steps: 2, on_failure: 0 },
    ]);
    expect(doc.problems).toEqual([
      {
        file: "b.yaml",
        line: 1,
        column: 1,
        path: "",
        message: 'missing required key "steps"',
        text: 'b.yaml:1:1: missing required key "steps"',
      },
    ]);
  });

  it("warns for steps acting as master or as a user named by a pubsub message, without changing the exit code", async () => {
    await writeFile(
      join(dir, "w.yaml"),
      [
        "on: { pubsub: { channel: c } }",
        "steps:",
        '  - save: { as: "${{ event.data.user }}", record: { _id: a/b } }',
        "  - query: { type: t, as: master }",
        "",
      ].join("\n"),
    );
    const t = io(dir, ["w.yaml"]);
    expect(await validate.run(t.io)).toBe(0);
    const lines = t.err().split("\n");
    expect(lines[0]).toMatch(/^warning: w\.yaml:3:22: steps\[0\]\.save\.as: .*\$\{\{ event\.data\.user \}\}/);
    expect(lines[1]).toMatch(
      /^warning: w\.yaml:4:27: steps\[1\]\.query\.as: steps\[1\] \(query\) acts as master/,
    );
    expect(t.out()).toContain("1 workflow valid");
    const j = io(dir, ["w.yaml", "--format", "json"]);
    expect(await validate.run(j.io)).toBe(0);
    const doc = JSON.parse(j.out()) as { ok: boolean; warnings: { line: number }[] };
    expect(doc.ok).toBe(true);
    expect(doc.warnings.map((w) => w.line)).toEqual([3, 4]);
  });

  it("reports a missing path and rejects an unknown option with exit 2", async () => {
    const t = io(dir, ["nope.yaml"]);
    expect(await validate.run(t.io)).toBe(1);
    expect(t.err()).toMatch(/^nope\.yaml:1:1: cannot read: ENOENT/);
    expect(await validate.run(io(dir, ["--strict"]).io)).toBe(2);
  });
});

describe("skyflow schema", () => {
  it("prints the JSON Schema", async () => {
    const t = io(tmpdir(), []);
    expect(await schema.run(t.io)).toBe(0);
    const doc = JSON.parse(t.out());
    expect(doc.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(doc.properties.steps.items.properties).toHaveProperty("save");
  });
});
