// The CLI's one argument parser (pure), and every command through it: `--help` prints the usage and exits 0,
// an unknown option or a bad value is refused alike, with the usage, and exit code 2.
import { describe, expect, it } from "vitest";
import { parseCommandArgs, UsageError } from "../../src/commands/args.js";
import type { Command } from "../../src/commands/types.js";
import { runCommand } from "../helpers/command.js";

const SPEC = {
  options: {
    port: { type: "string" },
    json: { type: "boolean", short: "j" },
    format: { type: "string", choices: ["text", "json"] },
  },
  positionals: { max: 1, names: ["dir"] },
} as const;

describe("parseCommandArgs", () => {
  it("reads --name value, --name=value, booleans, a short flag and a positional", () => {
    expect(parseCommandArgs(["flows", "--port", "4000", "--format=json", "-j"], SPEC)).toEqual({
      values: { port: "4000", format: "json", json: true },
      positionals: ["flows"],
      help: false,
    });
  });

  it("takes what follows -- as positionals", () => {
    expect(parseCommandArgs(["--", "--port"], SPEC).positionals).toEqual(["--port"]);
  });

  it("says help was asked for wherever --help or -h stands", () => {
    expect(parseCommandArgs(["flows", "--help"], SPEC).help).toBe(true);
    expect(parseCommandArgs(["-h", "--bogus"], SPEC).help).toBe(true);
  });

  it("refuses an unknown option, a missing value, a value for a boolean, a bad choice, extra arguments", () => {
    const err = (argv: string[]) => {
      try {
        parseCommandArgs(argv, SPEC);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(err(["--prot", "1"])).toBe("unknown option --prot");
    expect(err(["-x"])).toBe("unknown option -x");
    expect(err(["--port"])).toBe("--port needs a value");
    expect(err(["--json=yes"])).toBe("--json takes no value");
    expect(err(["--format", "xml"])).toBe('--format must be one of text, json; got "xml"');
    expect(err(["a", "b"])).toBe('unexpected argument "b"');
    expect(() =>
      parseCommandArgs([], { options: {}, positionals: { min: 1, max: 1, names: ["workflow"] } }),
    ).toThrow("missing <workflow>");
  });
});

const NAMES = [
  "dev",
  "start",
  "serve",
  "validate",
  "schema",
  "trigger",
  "runs",
  "workflows",
  "pause",
  "resume",
  "pushes",
];

async function load(name: string): Promise<Command> {
  return ((await import(`../../src/commands/${name}.ts`)) as { command: Command }).command;
}

describe("every command", () => {
  it.each(NAMES)("%s --help prints its usage on stdout and exits 0", async (name) => {
    const cmd = await load(name);
    // No database is reachable: a command that went past its arguments would fail, not print its usage.
    const r = await runCommand(cmd, ["--help"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^usage: skyflow ${name}\\b`));
    expect(r.out).toContain(cmd.summary);
    expect(r.err).toBe("");
  });

  it.each(NAMES)("%s refuses an unknown option with its usage and exit code 2", async (name) => {
    const cmd = await load(name);
    const r = await runCommand(cmd, ["--bogus"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^skyflow ${name}: unknown option --bogus\\nusage: skyflow ${name}\\b`));
    expect(r.out).toBe("");
  });

  it("refuses runs list --status with a status runs never have, naming the valid ones", async () => {
    const r = await runCommand(await load("runs"), ["list", "--status", "bogus"], {
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      '--status must be one of pending, running, sleeping, waiting, succeeded, failed, cancelled; got "bogus"',
    );
  });
});
