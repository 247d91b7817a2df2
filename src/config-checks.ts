// Configuration values that must not reach workflows or the network: credentials exposed to expressions
// through SKYFLOW_ENV_ALLOW, and the public development keys outside a loopback development server. Pure.
import { ConfigError } from "./errors.js";

/** Variables never exposed, whatever their value: they hold or lead to skyflow's own credentials. */
const RESERVED = /^(DATABASE_URL|PG\w*|SKYGEAR_\w+|SKYFLOW_\w+)$/;
/** Name parts that say "credential" (split at _ , so AUTHOR is not AUTH). */
const CREDENTIAL_PARTS = new Set([
  "AUTH",
  "AUTHORIZATION",
  "COOKIE",
  "CREDENTIAL",
  "CREDENTIALS",
  "DSN",
  "PASS",
  "PASSWD",
  "PRIVATE",
  "PWD",
  "SESSION",
]);
/** Anywhere in the name, as before: KEY, TOKEN, SECRET, PASSWORD. */
const CREDENTIAL_WORDS = /KEY|TOKEN|SECRET|PASSWORD/i;

/**
 * Why the variable `name` may not be exposed to expressions, or undefined. Looks at its name and its value:
 * a URL with a password (`postgres://u:pw@h/db`), a `password=` setting, a private key, or any of the keys.
 * The message never contains the value.
 */
export function credentialReason(
  name: string,
  value: string | undefined,
  keys: string[],
): string | undefined {
  if (RESERVED.test(name))
    return "it is one of skyflow's own settings (DATABASE_URL, PG*, SKYGEAR_*, SKYFLOW_*)";
  if (
    CREDENTIAL_WORDS.test(name) ||
    name
      .toUpperCase()
      .split(/[^A-Z0-9]+/)
      .some((p) => CREDENTIAL_PARTS.has(p))
  ) {
    return "its name marks a credential";
  }
  if (value === undefined || value === "") return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) return "its value is a URL with a password";
  if (/\b(password|passwd|pwd|secret|token|api_?key)\s*[=:]/i.test(value))
    return "its value sets a password or key";
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) return "its value is a private key";
  if (keys.some((k) => k.length >= 4 && value.includes(k))) return "its value contains a Skygear key";
  return undefined;
}

/** Refuses SKYFLOW_ENV_ALLOW naming any variable that holds a credential (exit code 2 naming it). */
export function checkEnvAllow(
  allow: string[],
  env: Record<string, string | undefined>,
  keys: string[],
): void {
  for (const name of allow) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ConfigError("SKYFLOW_ENV_ALLOW", `"${name.slice(0, 40)}" is not a variable name`);
    }
    const why = credentialReason(name, env[name], keys);
    if (why) {
      throw new ConfigError(
        "SKYFLOW_ENV_ALLOW",
        `${name} may not be exposed to expressions: ${why}; expressions may not read credentials`,
      );
    }
  }
}

export type Mode = "dev" | "start" | "serve";

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The development keys are printed in the README: `start` never runs with them, and `dev` and `serve` only
 * on a loopback interface.
 */
export function checkKeysFor(mode: Mode, cfg: { devKeys: boolean; host: string }): void {
  if (!cfg.devKeys) return;
  if (mode === "start") {
    throw new ConfigError(
      "SKYGEAR_API_KEY",
      "skyflow start does not run with the public development keys: set SKYGEAR_API_KEY and SKYGEAR_MASTER_KEY (or --api-key and --master-key)",
    );
  }
  if (!isLoopback(cfg.host)) {
    throw new ConfigError(
      "SKYFLOW_HOST",
      `the public development keys are only served on loopback; to listen on ${cfg.host}, set SKYGEAR_API_KEY and SKYGEAR_MASTER_KEY`,
    );
  }
}
