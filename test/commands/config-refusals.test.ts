// Configurations refused before anything listens, as a user meets them on the command line: exit code 2 and
// one line naming the variable to change, never printing a secret value.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../e2e/child.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "skyflow-refusals-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}) {
  const child = startCli(args, {
    cwd: dir,
    env: { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", ...env },
  });
  const code = await child.exited;
  return { code, out: child.output() };
}

describe("refused configurations", () => {
  it("skyflow start with the development keys exits 2 naming the keys to set", async () => {
    const r = await cli(["start", "--port", "0"]);
    expect(r.code).toBe(2);
    expect(r.out).toContain("SKYGEAR_API_KEY: skyflow start does not run with the public development keys");
    expect(r.out).toContain("SKYGEAR_MASTER_KEY");
  });

  it("skyflow serve off loopback with the development keys exits 2 naming SKYFLOW_HOST", async () => {
    const r = await cli(["serve", "--port", "0", "--host", "0.0.0.0"]);
    expect(r.code).toBe(2);
    expect(r.out).toContain("SKYFLOW_HOST: the public development keys are only served on loopback");
  });

  it("SKYFLOW_ENV_ALLOW=DATABASE_URL exits 2 and never prints the password", {
    timeout: 120_000,
  }, async () => {
    const env = {
      SKYFLOW_ENV_ALLOW: "DATABASE_URL",
      DATABASE_URL: "postgres://app:Sup3rSecret@127.0.0.1:1/none",
      SKYGEAR_API_KEY: "k1-api",
      SKYGEAR_MASTER_KEY: "k1-master",
    };
    for (const cmd of [["start"], ["dev"], ["validate"]]) {
      const r = await cli(cmd, env);
      expect(r.code, cmd[0]).toBe(2);
      expect(r.out).toContain("SKYFLOW_ENV_ALLOW: DATABASE_URL may not be exposed to expressions");
      expect(r.out).not.toContain("Sup3rSecret");
    }
  });
});
