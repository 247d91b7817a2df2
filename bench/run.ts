// `npm run bench [-- <name> [args...]]`: runs one benchmark of this directory (bench/<name>.ts, with its
// arguments), or every one in turn, each in its own Node process with --expose-gc. Needs DATABASE_URL.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && !["lib.ts", "run.ts"].includes(f) && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (name !== undefined && !all.includes(name)) {
  console.error(`no benchmark named "${name}"; there are: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const b of name === undefined ? all : [name]) {
  console.log(`\n== bench/${b}.ts ${args.join(" ")}`);
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", `${dir}${b}.ts`, ...args], {
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
