// The README's promises: the quick start is exactly `npm install`, `npx skyflow dev`, `npm test`; its
// configuration table equals VARIABLES in src/config.ts; and `npx skyflow dev` (the built CLI through the
// package's bin, as after `npm install`) starts, serves /healthz and stops cleanly on Ctrl-C (SIGINT).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VARIABLES } from "../../src/config.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { eventually, freePort } from "./child.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const README = readFileSync(`${ROOT}README.md`, "utf8");

/** The rows of a Markdown table as trimmed cells, without the header and the separator (Biome pads them). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split("\n")
    .slice(2)
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe("README", () => {
  it("opens its quick start with npm install, npx skyflow dev and npm test, nothing else", () => {
    const block = /## Quick start\s+```sh\n([\s\S]*?)```/.exec(README)?.[1];
    expect(block?.trim().split("\n")).toEqual(["npm install", "npx skyflow dev", "npm test"]);
  });

  it("shows the SDK example file as it is, and the command that runs it", () => {
    const shown = /```js\n([\s\S]*?)```/.exec(README)?.[1];
    expect(shown).toBe(readFileSync(`${ROOT}examples/save-task.mjs`, "utf8"));
    expect(README).toMatch(/```sh\nnode examples\/save-task\.mjs\n/);
  });

  it("has the configuration table generated from VARIABLES", () => {
    const table = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(README)?.[1];
    const expected = Object.entries(VARIABLES).map(([name, text]) => [`\`${name}\``, text]);
    expect(tableRows(table ?? "")).toEqual(expected);
  });
});

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("e2e_readme");
});
afterAll(async () => {
  await db?.drop();
});

// dist/ is built by `npm install` (the prepare script); without it there is no `npx skyflow` to run.
describe.skipIf(!existsSync(`${ROOT}dist/cli.js`))("npx skyflow dev", () => {
  it("starts on the example workflows, answers /healthz and stops cleanly on Ctrl-C (SIGINT)", async () => {
    const [port, httpPort] = [await freePort(), await freePort()];
    const proc = spawn("npx", ["skyflow", "dev", "--port", String(port)], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, SKYFLOW_HTTP_PORT: String(httpPort) },
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own, signalled as a terminal signals Ctrl-C: npm does not pass signals on.
      detached: true,
    });
    const group = -(proc.pid ?? 0);
    let out = "";
    proc.stdout.on("data", (c) => {
      out += c;
    });
    proc.stderr.on("data", (c) => {
      out += c;
    });
    const exited = new Promise<[number | null, string | null]>((r) =>
      proc.once("exit", (code, signal) => r([code, signal])),
    );
    try {
      await eventually(async () => (out.includes("skyflow dev") ? true : undefined), 60_000);
      expect(out).toContain(`http://127.0.0.1:${port}/`);
      expect(out).toMatch(/workflows +[1-9]\d* live, 0 broken in workflows\//);
      expect(out).toContain(`dashboard        http://127.0.0.1:${httpPort}/`);
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      expect(res.status).toBe(200);
      // The README's SDK example, run as written beside it: it exits by itself and review-task runs.
      const example = await runExample(port);
      expect(example.output).toMatch(/^saved task\//);
      expect(example.code).toBe(0);
      const run = await eventually(async () => {
        const { rows } = await db.pool.query(
          "SELECT status FROM skyflow.runs WHERE workflow = 'review-task' AND status = 'succeeded'",
        );
        return rows.length > 0 ? rows : undefined;
      }, 30_000);
      expect(run).toHaveLength(1);
    } finally {
      process.kill(group, "SIGINT");
    }
    const timer = setTimeout(() => process.kill(group, "SIGKILL"), 30_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    // npm ends itself with the signal it received once skyflow has exited.
    expect(code === 0 || signal === "SIGINT").toBe(true);
    await eventually(async () => (out.includes("skyflow stopped") ? true : undefined), 10_000);
  }, 90_000);
});

/** `node examples/save-task.mjs` against the server on `port`; killed if it has not exited within 30 s. */
async function runExample(port: number): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, ["examples/save-task.mjs"], {
    cwd: ROOT,
    env: { ...process.env, SKYGEAR_ENDPOINT: `http://127.0.0.1:${port}/` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout.on("data", (c) => {
    output += c;
  });
  proc.stderr.on("data", (c) => {
    output += c;
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  clearTimeout(timer);
  return { code, output };
}
