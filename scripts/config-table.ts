// Regenerates the README's configuration table from VARIABLES in src/config.ts (between the
// config-table markers). Run: npx tsx scripts/config-table.ts   (a test fails while they differ)
import { readFile, writeFile } from "node:fs/promises";
import { VARIABLES } from "../src/config.js";

const file = new URL("../README.md", import.meta.url);
const rows = Object.entries(VARIABLES).map(([name, text]) => `| \`${name}\` | ${text} |`);
const table = ["| variable | meaning |", "|---|---|", ...rows].join("\n");
const readme = await readFile(file, "utf8");
const next = readme.replace(
  /(<!-- config-table:start -->\n)[\s\S]*?(\n<!-- config-table:end -->)/,
  (_m, start: string, end: string) => `${start}${table}${end}`,
);
await writeFile(file, next);
console.log(
  next === readme
    ? "README table already current"
    : "README table regenerated (run biome check --write README.md)",
);
