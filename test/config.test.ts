// Configuration from the environment: defaults, and a clear error naming the variable. Pure.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { DEFAULT_LIMITS } from "../src/server/limits.js";

describe("loadConfig", () => {
  it("reads SKYFLOW_LEASE_MS, 30 s by default, and refuses a lease under a second naming the variable", () => {
    expect(loadConfig({}).leaseMs).toBe(30_000);
    expect(loadConfig({ SKYFLOW_LEASE_MS: "2000" }).leaseMs).toBe(2000);
    expect(() => loadConfig({ SKYFLOW_LEASE_MS: "500" })).toThrow("SKYFLOW_LEASE_MS");
    expect(() => loadConfig({ SKYFLOW_LEASE_MS: "soon" })).toThrow("SKYFLOW_LEASE_MS");
  });

  it("reads the development server's request limits, with defaults, naming a bad variable", () => {
    expect(loadConfig({}).serverLimits).toEqual(DEFAULT_LIMITS);
    const cfg = loadConfig({
      SKYFLOW_MAX_BODY_BYTES: "2048",
      SKYFLOW_MAX_RECORDS: "5",
      SKYFLOW_MAX_IN_LIST: "7",
      SKYFLOW_MAX_PREDICATE_DEPTH: "3",
      SKYFLOW_MAX_VALUE_DEPTH: "4",
      SKYFLOW_MAX_QUERY_TERMS: "9",
    });
    expect(cfg.serverLimits).toEqual({
      bodyBytes: 2048,
      records: 5,
      inList: 7,
      predicateDepth: 3,
      queryTerms: 9,
      valueDepth: 4,
    });
    expect(() => loadConfig({ SKYFLOW_MAX_RECORDS: "0" })).toThrow("SKYFLOW_MAX_RECORDS");
    expect(() => loadConfig({ SKYFLOW_MAX_IN_LIST: "70000" })).toThrow("SKYFLOW_MAX_IN_LIST");
    expect(() => loadConfig({ SKYFLOW_MAX_BODY_BYTES: "lots" })).toThrow("SKYFLOW_MAX_BODY_BYTES");
  });
});
