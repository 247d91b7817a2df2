// `prepare` (run by `npm install`, `npm ci` and, once per directory, by `npx skyflow` itself, which installs
// the project into its cache as a linked dependency): build dist/ unless it was already built from exactly
// these sources. Without this check the first `npx skyflow dev` rebuilt everything (a minute on a busy
// 2-core machine) and removed dist/ under anything already running from it.
import { execSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const INPUTS = [
  "src",
  "web",
  "scripts/build-dashboard.ts",
  "tsconfig.json",
  "tsconfig.build.json",
  "package.json",
];
const STAMP = join(ROOT, "dist", ".sources-sha256");

function files(rel) {
  const abs = join(ROOT, rel);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => files(join(rel, e.name)));
}

const hash = createHash("sha256");
for (const f of INPUTS.flatMap(files))
  hash
    .update(f)
    .update("\0")
    .update(readFileSync(join(ROOT, f)))
    .update("\0");
const digest = hash.digest("hex");

const built = existsSync(STAMP) && readFileSync(STAMP, "utf8").trim() === digest;
if (
  built &&
  existsSync(join(ROOT, "dist", "cli.js")) &&
  existsSync(join(ROOT, "dist", "dashboard", "app.js"))
) {
  console.log("dist/ is up to date with the sources");
} else {
  execSync("npm run build", { cwd: ROOT, stdio: "inherit" });
  writeFileSync(STAMP, `${digest}\n`);
}
