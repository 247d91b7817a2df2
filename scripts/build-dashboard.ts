// Bundles the dashboard client (web/src, Preact) into dist/dashboard/app.js and app.css with esbuild, prints
// the sizes, and fails past the budget of 150 KB gzipped. Run by `npm run build` (and so by `prepare`) and
// by the tests' global setup, so a test always serves the current client.
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const ROOT = new URL("../", import.meta.url);
export const BUDGET_GZIP_BYTES = 150 * 1024;

export interface BuiltSize {
  file: string;
  bytes: number;
  gzip: number;
}

export async function buildDashboard(
  outdir = fileURLToPath(new URL("dist/dashboard/", ROOT)),
): Promise<BuiltSize[]> {
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: { app: fileURLToPath(new URL("web/src/main.tsx", ROOT)) },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome110", "firefox110", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    write: false,
    outdir,
    legalComments: "none",
    logLevel: "silent",
  });
  const css = await build({
    entryPoints: { app: fileURLToPath(new URL("web/src/app.css", ROOT)) },
    bundle: true,
    minify: true,
    write: false,
    outdir,
    logLevel: "silent",
  });
  const sizes: BuiltSize[] = [];
  for (const f of [...result.outputFiles, ...css.outputFiles]) {
    await writeFile(f.path, f.contents);
    sizes.push({
      file: f.path,
      bytes: f.contents.byteLength,
      gzip: gzipSync(f.contents, { level: 9 }).byteLength,
    });
  }
  return sizes;
}

export function totalGzip(sizes: BuiltSize[]): number {
  return sizes.reduce((n, s) => n + s.gzip, 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await buildDashboard();
  for (const s of sizes) {
    const name = s.file.slice(s.file.lastIndexOf("dist/"));
    console.log(`${name}: ${(s.bytes / 1024).toFixed(1)} KB, ${(s.gzip / 1024).toFixed(1)} KB gzipped`);
  }
  const total = totalGzip(sizes);
  console.log(
    `dashboard bundle: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_GZIP_BYTES / 1024} KB)`,
  );
  if (total > BUDGET_GZIP_BYTES) {
    console.error("dashboard bundle is over its budget");
    process.exitCode = 1;
  }
}
