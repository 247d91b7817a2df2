// Configuration from the environment: defaults, and a clear error naming the variable. Pure.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("reads SKYFLOW_LEASE_MS, 30 s by default, and refuses a lease under a second naming the variable", () => {
    expect(loadConfig({}).leaseMs).toBe(30_000);
    expect(loadConfig({ SKYFLOW_LEASE_MS: "2000" }).leaseMs).toBe(2000);
    expect(() => loadConfig({ SKYFLOW_LEASE_MS: "500" })).toThrow("SKYFLOW_LEASE_MS");
    expect(() => loadConfig({ SKYFLOW_LEASE_MS: "soon" })).toThrow("SKYFLOW_LEASE_MS");
  });
});
