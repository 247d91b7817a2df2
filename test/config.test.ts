// Configuration from the environment: defaults, and a clear error naming the variable. Pure.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { checkKeysFor } from "../src/config-checks.js";
import { ConfigError } from "../src/errors.js";
import { DEFAULT_LIMITS } from "../src/server/limits.js";

describe("loadConfig", () => {
  it("reads SKYFLOW_LEASE_MS, 30 s by default, and refuses a lease under a second naming the variable", () => {
    expect(loadConfig({}).leaseMs).toBe(30_000);
    expect(loadConfig({ SKYFLOW_LEASE_MS: "2000" }).leaseMs).toBe(2000);
    expect(() => loadConfig({ SKYFLOW_LEASE_MS: "500" })).toThrow("SKYFLOW_LEASE_MS");
    expect(() => loadConfig({ SKYFLOW_LEASE_MS: "soon" })).toThrow("SKYFLOW_LEASE_MS");
  });

  it("reads SKYFLOW_HELPER_NICE, 19 by default, 0 to 19, and refuses others naming the variable", () => {
    expect(loadConfig({}).helperNice).toBe(19);
    expect(loadConfig({ SKYFLOW_HELPER_NICE: "0" }).helperNice).toBe(0);
    expect(loadConfig({ SKYFLOW_HELPER_NICE: "10" }).helperNice).toBe(10);
    expect(() => loadConfig({ SKYFLOW_HELPER_NICE: "20" })).toThrow(/SKYFLOW_HELPER_NICE.*0 to 19/);
    expect(() => loadConfig({ SKYFLOW_HELPER_NICE: "-5" })).toThrow("SKYFLOW_HELPER_NICE");
  });

  it("reads SKYFLOW_SQL_GROUP, on by default, and refuses anything but on or off naming the variable", () => {
    expect(loadConfig({}).sqlGroup).toBe(true);
    expect(loadConfig({ SKYFLOW_SQL_GROUP: "off" }).sqlGroup).toBe(false);
    expect(loadConfig({ SKYFLOW_SQL_GROUP: "on" }).sqlGroup).toBe(true);
    expect(() => loadConfig({ SKYFLOW_SQL_GROUP: "no" })).toThrow(/SKYFLOW_SQL_GROUP.*on or off/);
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

describe("SKYFLOW_ENV_ALLOW", () => {
  const refused = (env: Record<string, string>) => {
    try {
      loadConfig({ ...env });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).message;
    }
    return undefined;
  };

  it("refuses skyflow's own settings and names that mark a credential, naming the variable", () => {
    for (const name of [
      "DATABASE_URL",
      "PGPASSWORD",
      "SKYGEAR_ENDPOINT",
      "SKYFLOW_STATE_DIR",
      "STRIPE_API_KEY",
      "GITHUB_TOKEN",
      "SMTP_PASS",
      "DB_PWD",
      "SENTRY_DSN",
      "SESSION_COOKIE",
      "AWS_CREDENTIALS",
    ]) {
      const msg = refused({ SKYFLOW_ENV_ALLOW: `REGION,${name}`, [name]: "x" });
      expect(msg, name).toMatch(new RegExp(`^SKYFLOW_ENV_ALLOW: ${name} may not be exposed to expressions`));
    }
  });

  it("refuses values that hold a credential, without printing them", () => {
    const cases: Record<string, string> = {
      OTHER_DB: "postgres://app:Sup3rSecret@db.internal:5432/app",
      REDIS: "redis://:Sup3rSecret@cache:6379",
      LIBPQ: "host=db user=app password=Sup3rSecret",
      CERT: "-----BEGIN RSA PRIVATE KEY-----\nSup3rSecret",
      COPY_OF_KEY: "prefix-k3y-master-Sup3rSecret",
    };
    for (const [name, value] of Object.entries(cases)) {
      const msg = refused({
        SKYFLOW_ENV_ALLOW: name,
        [name]: value,
        SKYGEAR_MASTER_KEY: "k3y-master-Sup3rSecret",
      });
      expect(msg, name).toMatch(new RegExp(`^SKYFLOW_ENV_ALLOW: ${name} may not be exposed`));
      expect(msg).not.toContain("Sup3rSecret");
    }
  });

  it("accepts plain settings", () => {
    const cfg = loadConfig({
      SKYFLOW_ENV_ALLOW: "REGION, AUTHOR_NAME,PUBLIC_URL",
      REGION: "hk",
      AUTHOR_NAME: "ops",
      PUBLIC_URL: "https://example.com/app",
    });
    expect(cfg.envAllow).toEqual(["REGION", "AUTHOR_NAME", "PUBLIC_URL"]);
  });
});

describe("development keys and the listening interface", () => {
  it("binds loopback unless SKYFLOW_HOST or --host says otherwise", () => {
    expect(loadConfig({}).host).toBe("127.0.0.1");
    expect(loadConfig({ SKYFLOW_HOST: "0.0.0.0" }).host).toBe("0.0.0.0");
    expect(loadConfig({ SKYFLOW_HOST: "0.0.0.0" }, { host: "::1" }).host).toBe("::1");
  });

  it("start refuses the development keys, naming the variables to set", () => {
    expect(() => checkKeysFor("start", loadConfig({}))).toThrow(
      /^SKYGEAR_API_KEY: skyflow start does not run with the public development keys: set SKYGEAR_API_KEY and SKYGEAR_MASTER_KEY/,
    );
    expect(() => checkKeysFor("start", loadConfig({ SKYGEAR_API_KEY: "a-key" }))).toThrow(
      /SKYGEAR_MASTER_KEY/,
    );
    expect(() =>
      checkKeysFor("start", loadConfig({ SKYGEAR_API_KEY: "a-key", SKYGEAR_MASTER_KEY: "m-key" })),
    ).not.toThrow();
  });

  it("dev and serve take the development keys on loopback only", () => {
    expect(() => checkKeysFor("serve", loadConfig({}))).not.toThrow();
    expect(() => checkKeysFor("dev", loadConfig({ SKYFLOW_HOST: "localhost" }))).not.toThrow();
    expect(() => checkKeysFor("serve", loadConfig({ SKYFLOW_HOST: "0.0.0.0" }))).toThrow(/^SKYFLOW_HOST: /);
    const keys = { SKYGEAR_API_KEY: "a-key", SKYGEAR_MASTER_KEY: "m-key", SKYFLOW_HOST: "0.0.0.0" };
    expect(() => checkKeysFor("serve", loadConfig(keys))).not.toThrow();
  });
});
