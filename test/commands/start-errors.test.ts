// `skyflow start` and `dev` that cannot reach their database: exit 1 with a line that says where it pointed
// (never its password), and, for `start`, a JSON log line too.
import { describe, expect, it } from "vitest";
import { command as dev } from "../../src/commands/dev.js";
import { command as start } from "../../src/commands/start.js";
import type { CommandIO } from "../../src/commands/types.js";
import { runCommand } from "../helpers/command.js";

const run = (cmd: { run(io: CommandIO): Promise<number> }, env: Record<string, string>) =>
  runCommand(cmd, ["--port", "0"], {
    ...env,
    SKYFLOW_HTTP_PORT: "0",
    SKYGEAR_API_KEY: "errors-api-key",
    SKYGEAR_MASTER_KEY: "errors-master-key",
  });

// Nothing listens on port 1.
const unreachable = "postgres://ops:Sup3rSecret@127.0.0.1:1/shop";

describe("daemon start-up errors", () => {
  it("start: exits 1, naming the database without its password, on stderr and as a JSON log line", async () => {
    const r = await run(start, { DATABASE_URL: unreachable });
    expect(r.code).toBe(1);
    expect(r.err).toContain("skyflow start: cannot use the database ops@127.0.0.1:1/shop (DATABASE_URL)");
    expect(r.err).toContain("ECONNREFUSED");
    const line = JSON.parse(r.out.trim().split("\n").at(-1)!);
    expect(line).toMatchObject({ level: 60, msg: "skyflow could not start" });
    expect(line.err).toContain("ops@127.0.0.1:1/shop");
    expect(r.out + r.err).not.toContain("Sup3rSecret");
  });

  it("dev: exits 1 with the same line on stderr", async () => {
    const r = await run(dev, { DATABASE_URL: unreachable });
    expect(r.code).toBe(1);
    expect(r.err).toContain("skyflow dev: cannot use the database ops@127.0.0.1:1/shop (DATABASE_URL)");
    expect(r.out + r.err).not.toContain("Sup3rSecret");
  });
});
