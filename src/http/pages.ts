// The dashboard's HTML: one shell for every page (the bundled client renders it), the login form (plain
// HTML, works without scripts), and the bundle itself, read once from dist/dashboard (built by
// `npm run build`) and served gzipped with a content hash in its URL.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  hash: string;
}

/** Where the build writes the bundle: <package root>/dist/dashboard, from src/http or dist/http alike. */
export const BUNDLE_DIR = new URL("../../dist/dashboard/", import.meta.url);

export interface Bundle {
  assets: Map<string, Asset>;
  /** Why the bundle could not be read (the page then says how to build it). */
  missing?: string;
}

export function loadBundle(dir: URL = BUNDLE_DIR): Bundle {
  const assets = new Map<string, Asset>();
  const files: [string, string][] = [
    ["app.js", "text/javascript; charset=utf-8"],
    ["app.css", "text/css; charset=utf-8"],
  ];
  for (const [name, type] of files) {
    let body: Buffer;
    try {
      body = readFileSync(new URL(name, dir));
    } catch {
      return { assets, missing: `${name} is not built; run \`npm run build\`` };
    }
    const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
    assets.set(name, { type, body, gzip: gzipSync(body, { level: 9 }), hash });
  }
  return { assets };
}

export function shellPage(bundle: Bundle, base: string, mode: "dev" | "start"): string {
  if (bundle.missing) {
    return html(
      "skyflow",
      `<main class="login"><h1>skyflow</h1><p>The dashboard ${esc(bundle.missing)}.</p></main>`,
    );
  }
  const v = (name: string) => bundle.assets.get(name)?.hash ?? "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skyflow</title><link rel="icon" href="data:,">
<meta name="skyflow-base" content="${esc(base)}"><meta name="skyflow-mode" content="${mode}">
<link rel="stylesheet" href="${esc(base)}/assets/app.css?v=${v("app.css")}">
<script type="module" src="${esc(base)}/assets/app.js?v=${v("app.js")}"></script>
</head><body><div id="app"><p class="loading">Loading…</p></div></body></html>`;
}

export function loginPage(base: string, opts: { next: string; error?: string }): string {
  const error = opts.error ? `<p class="error" role="alert">${esc(opts.error)}</p>` : "";
  return html(
    "skyflow: sign in",
    `<main class="login"><h1>skyflow</h1>
<form method="post" action="${esc(base)}/login">
<label for="token">Master key or dashboard token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${esc(opts.next)}">
<button type="submit">Sign in</button>${error}
</form>
<p class="hint">The key is checked and then forgotten: the browser keeps a signed session cookie, not the key.</p>
</main>`,
    base,
  );
}

function html(title: string, body: string, base = ""): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${esc(base)}/assets/app.css"></head><body>${body}</body></html>`;
}

/** A local path to return to after signing in; anything else (another site, `//host`) becomes `/`. */
export function safeNext(next: string | null | undefined): string {
  return next && /^\/(?![/\\])/.test(next) ? next : "/";
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
