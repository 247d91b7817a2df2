// The dashboard's bundle (built by the global setup, as `npm run build` does): inside its 150 KB gzipped
// budget, and free of anything fetched at run time from elsewhere (no CDN: the page works offline).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BUDGET_GZIP_BYTES } from "../../scripts/build-dashboard.js";
import { BUNDLE_DIR, loadBundle } from "../../src/http/pages.js";

describe("dashboard bundle", () => {
  it("is built, and fits the gzip budget", () => {
    const bundle = loadBundle();
    expect(bundle.missing).toBeUndefined();
    let total = 0;
    for (const name of ["app.js", "app.css"])
      total += gzipSync(readFileSync(new URL(name, BUNDLE_DIR)), { level: 9 }).length;
    console.log(`dashboard bundle: ${(total / 1024).toFixed(1)} KB gzipped`);
    expect(total).toBeLessThan(BUDGET_GZIP_BYTES);
  });

  it("loads nothing from another host", () => {
    const js = readFileSync(new URL("app.js", BUNDLE_DIR), "utf8");
    const css = readFileSync(new URL("app.css", BUNDLE_DIR), "utf8");
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}\//i);
    expect(css).not.toMatch(/url\(\s*["']?https?:/i);
    expect(css).not.toMatch(/@import/);
  });
});
