// The read-only dashboard: workflows (status, version, triggers, last run, load errors) and recent runs, as
// JSON under /api/* and as one small HTML page at /. Everything shown is escaped; nothing can be changed.
import type pg from "pg";
import type { LiveCatalog } from "../engine/catalog.js";
import { listRuns } from "../engine/store/inspect.js";
import { type WorkflowRow, workflowRows } from "./overview.js";

type Route = (url: URL) => Promise<{ type: string; body: string }>;

const JSON_TYPE = "application/json";

export function dashboardRoutes(opts: { pool: pg.Pool; catalog: LiveCatalog }): Record<string, Route> {
  const runs = (url: URL) =>
    listRuns(opts.pool, {
      workflow: url.searchParams.get("workflow") ?? undefined,
      status: url.searchParams.get("status") ?? undefined,
      limit: Math.min(Number(url.searchParams.get("limit")) || 50, 500),
    });
  return {
    "/api/workflows": async () => ({
      type: JSON_TYPE,
      body: JSON.stringify(await workflowRows(opts.pool, opts.catalog)),
    }),
    "/api/runs": async (url) => ({
      type: JSON_TYPE,
      body: JSON.stringify(
        (await runs(url)).map((r) => ({
          id: r.id,
          workflow: r.workflow,
          status: r.status,
          createdAt: r.createdAt,
          finishedAt: r.finishedAt,
          error: r.error,
        })),
      ),
    }),
    "/": async (url) => {
      const [wfs, recent] = await Promise.all([workflowRows(opts.pool, opts.catalog), runs(url)]);
      return { type: "text/html; charset=utf-8", body: page(wfs, recent) };
    },
  };
}

type RunRow = Awaited<ReturnType<typeof listRuns>>[number];

function page(wfs: WorkflowRow[], runs: RunRow[]): string {
  const wfRows = wfs
    .map(
      (w) =>
        `<tr class="${w.status}"><td>${esc(w.name)}</td><td>${w.status}</td><td><code>${esc(w.version)}</code></td>` +
        `<td>${w.triggers.map(esc).join("<br>")}</td><td>${w.lastRun ? `${esc(w.lastRun.status)} ${esc(w.lastRun.at)}` : "never"}</td>` +
        `<td><pre>${esc(w.problems.join("\n"))}</pre></td></tr>`,
    )
    .join("\n");
  const runRows = runs
    .map(
      (r) =>
        `<tr class="${esc(r.status)}"><td><code>${esc(r.id)}</code></td><td>${esc(r.workflow)}</td><td>${esc(r.status)}</td>` +
        `<td>${esc(r.createdAt.toISOString())}</td><td>${r.error ? esc(`${r.error.step}: ${r.error.name}: ${r.error.message}`) : ""}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>skyflow</title>
<meta http-equiv="refresh" content="5">
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.broken,.failed{background:#fee}.paused,.disabled{color:#888}pre{margin:0}</style></head><body>
<h1>skyflow</h1><h2>Workflows</h2><table><tr><th>name</th><th>status</th><th>version</th><th>triggers</th><th>last run</th><th>problems</th></tr>
${wfRows}</table><h2>Recent runs</h2><table><tr><th>id</th><th>workflow</th><th>status</th><th>created</th><th>error</th></tr>
${runRows}</table></body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
