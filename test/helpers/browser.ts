// Debian's Chromium driven by playwright-core (no browser download): a fresh profile per launch, and every
// console error and uncaught page error collected, so a test can say the page logged none.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** CI installs it (.ci/run); elsewhere a missing browser skips the browser tests instead of failing them. */
export const haveChromium = existsSync(CHROMIUM) || process.env.CI === "true";

export interface Browser {
  context: BrowserContext;
  newPage(width?: number, height?: number): Promise<Page>;
  /** Console errors and page errors seen on any page so far. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "skyflow-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  };
  context.on("page", watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    errors,
    async newPage(width = 1280, height = 900) {
      const page = await context.newPage();
      await page.setViewportSize({ width, height });
      return page;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
