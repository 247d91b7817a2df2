// The daemon's arguments: flags in both spellings, one positional directory, usage errors. Pure.
import { describe, expect, it } from "vitest";
import { parseDaemonArgs, UsageError } from "../src/main.js";

describe("parseDaemonArgs", () => {
  it("reads --name value, --name=value and the directory", () => {
    expect(parseDaemonArgs(["flows", "--port", "4000", "--app-name=shop", "--http-port", "0"])).toEqual({
      flags: { port: "4000", "app-name": "shop", "http-port": "0" },
      dir: "flows",
    });
  });

  it("rejects an unknown option, a missing value and a second directory", () => {
    expect(() => parseDaemonArgs(["--prot", "1"])).toThrow(UsageError);
    expect(() => parseDaemonArgs(["--port"])).toThrow("--port needs a value");
    expect(() => parseDaemonArgs(["a", "b"])).toThrow('unexpected argument "b"');
  });
});
