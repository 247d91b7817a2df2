// A project directory of workflows, its own test database and a `skyflow dev` on loopback, as the end-to-end
// tests of `skyflow dev` set them up; the official SDK's global container is configured against it.
import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEV_API_KEY } from "../../src/config.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { skygear } from "../helpers/sdk.js";
import { type Child, freePort, startCli } from "./child.js";

export interface DevProject {
  db: TestDatabase;
  /** The project directory; its workflows are in `workflows/`. */
  dir: string;
  /** The development server's port (the same across restarts). */
  port: number;
  /** Starts `skyflow dev` (again) and waits for its banner; `graceMs` is its shutdown grace. */
  launch(graceMs?: number): Promise<Child>;
  /** Kills the running `skyflow dev` (if any), drops the database and removes the directory. */
  remove(child: Child | undefined): Promise<void>;
}

/** Creates the database `label` and a directory with `workflows` (file name without `.yaml` -> YAML text). */
export async function devProject(label: string, workflows: Record<string, string>): Promise<DevProject> {
  const db = await createTestDatabase(label);
  const dir = await mkdtemp(join(tmpdir(), `skyflow-${label}-`));
  mkdirSync(join(dir, "workflows"));
  for (const [name, yaml] of Object.entries(workflows))
    await writeFile(join(dir, "workflows", `${name}.yaml`), yaml);
  const port = await freePort();
  return {
    db,
    dir,
    port,
    async launch(graceMs = 2000) {
      const c = startCli(["dev", "--port", String(port)], {
        cwd: dir,
        env: {
          DATABASE_URL: db.url,
          SKYFLOW_HTTP_PORT: String(await freePort()),
          SKYFLOW_GRACE_MS: String(graceMs),
        },
      });
      await c.waitFor("skyflow dev", 60_000);
      return c;
    },
    async remove(child) {
      await child?.stop("SIGKILL");
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Points the SDK's global container at the project's development server and signs up an anonymous user. */
export async function signUpWithSdk(p: DevProject): Promise<void> {
  await skygear.config({ endPoint: `http://127.0.0.1:${p.port}/`, apiKey: DEV_API_KEY });
  await skygear.auth.signupAnonymously();
}
