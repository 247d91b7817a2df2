// `/`: every workflow (status, triggers with cron's next fire, version, last run, problems as
// file:line:column) and the recent runs, filtered by workflow, status, time and run id prefix; live.
import { useState } from "preact/hooks";
import type { RunSummary, WorkflowRow } from "../../../src/http/api-types.js";
import { useLive, useNow } from "../api.js";
import { ago, localTime, shortId } from "../format.js";
import { href, navigate } from "../router.js";
import { Layout, Loading, Problem, RunsTable, Status } from "../ui.js";

const SINCE: [string, string, number][] = [
  ["any", "any time", 0],
  ["15m", "last 15 minutes", 15 * 60_000],
  ["1h", "last hour", 3_600_000],
  ["24h", "last 24 hours", 86_400_000],
  ["7d", "last 7 days", 7 * 86_400_000],
];
const STATUSES = ["pending", "running", "waiting", "sleeping", "succeeded", "failed", "cancelled"];

export function Overview(props: { search: URLSearchParams }) {
  const wfs = useLive<WorkflowRow[]>("/api/workflows", (e) => e.type === "workflows" || e.type === "runs");
  const f = {
    workflow: props.search.get("workflow") ?? "",
    status: props.search.get("status") ?? "",
    since: props.search.get("since") ?? "any",
    q: props.search.get("q") ?? "",
  };
  const query = runQuery(f);
  const runs = useLive<RunSummary[]>(`/api/runs?${query}`, (e) => e.type === "runs");
  const now = useNow(true);
  return (
    <Layout title="Overview">
      <h1>Workflows</h1>
      {wfs.data ? <WorkflowTable rows={wfs.data} now={now} /> : <Loading error={wfs.error} />}
      <h2 id="runs">Recent runs</h2>
      <Filters f={f} workflows={(wfs.data ?? []).filter((w) => !w.name.startsWith("(")).map((w) => w.name)} />
      {runs.data ? <RunsTable runs={runs.data} now={now} /> : <Loading error={runs.error} />}
    </Layout>
  );
}

type F = { workflow: string; status: string; since: string; q: string };

function runQuery(f: F): string {
  const p = new URLSearchParams({ limit: "50" });
  if (f.workflow) p.set("workflow", f.workflow);
  if (f.status) p.set("status", f.status);
  const span = SINCE.find((s) => s[0] === f.since)?.[2];
  // Rounded to the minute, so the URL (and so the fetch) does not change on every render.
  if (span) p.set("since", new Date(Math.floor((Date.now() - span) / 60_000) * 60_000).toISOString());
  if (f.q) p.set("q", f.q);
  return p.toString();
}

function Filters(props: { f: F; workflows: string[] }) {
  const [q, setQ] = useState(props.f.q);
  const set = (patch: Partial<F>) => {
    const next = { ...props.f, ...patch };
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v && !(k === "since" && v === "any")) p.set(k, v);
    navigate(`${location.pathname}${p.size ? `?${p}` : ""}`);
  };
  return (
    <form
      class="filters"
      aria-label="filter runs"
      onSubmit={(e) => {
        e.preventDefault();
        set({ q: q.trim() });
      }}
    >
      <label>
        Workflow
        <select value={props.f.workflow} onChange={(e) => set({ workflow: e.currentTarget.value })}>
          <option value="">all</option>
          {props.workflows.map((w) => (
            <option key={w} value={w}>
              {w}
            </option>
          ))}
        </select>
      </label>
      <label>
        Status
        <select value={props.f.status} onChange={(e) => set({ status: e.currentTarget.value })}>
          <option value="">all</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Started
        <select value={props.f.since} onChange={(e) => set({ since: e.currentTarget.value })}>
          {SINCE.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      </label>
      <label>
        Run id
        <input
          type="search"
          placeholder="id or first characters"
          value={q}
          spellcheck={false}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Search</button>
    </form>
  );
}

function WorkflowTable(props: { rows: WorkflowRow[]; now: number }) {
  if (props.rows.length === 0)
    return <p class="muted">No workflow files yet: add one to the workflows directory.</p>;
  return (
    <div class="table-wrap">
      <table class="workflows">
        <thead>
          <tr>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Triggers</th>
            <th scope="col">Version</th>
            <th scope="col">Last run</th>
            <th scope="col">Problems</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((w) => (
            <tr key={w.name} data-workflow={w.name} class={w.problems.length ? "has-problems" : ""}>
              <td data-label="Workflow">
                <a href={href.workflow(w.name)}>{w.name}</a>
                {w.description ? <div class="muted small">{w.description}</div> : null}
              </td>
              <td data-label="Status">
                <Status status={w.status} />
              </td>
              <td data-label="Triggers">
                <ul class="plain">
                  {w.triggers.map((t) => (
                    <li key={t}>
                      {t.replace(/ next (\S+Z)$/, (_m, iso: string) => ` · next ${localTime(iso)}`)}
                    </li>
                  ))}
                </ul>
              </td>
              <td data-label="Version" class="mono">
                {w.version.slice(0, 8)}
              </td>
              <td data-label="Last run" class="nowrap">
                {w.lastRun ? (
                  <a href={href.run(w.lastRun.id)} title={w.lastRun.id}>
                    <Status status={w.lastRun.status} /> {shortId(w.lastRun.id)}{" "}
                    {ago(w.lastRun.at, props.now)}
                  </a>
                ) : (
                  <span class="muted">never</span>
                )}
              </td>
              <td data-label="Problems" class="wrap">
                {w.problems.length ? (
                  <ul class="problems">
                    {w.problems.map((p) => (
                      <Problem key={p} text={p} />
                    ))}
                  </ul>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
