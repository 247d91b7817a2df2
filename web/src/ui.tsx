// Small pieces the pages share: the header, status badges, JSON blocks, the runs table, action buttons.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { RunSummary } from "../../src/http/api-types.js";
import { mode, postAction, useConnected } from "./api.js";
import { ago, duration, localTime, shortId } from "./format.js";
import { href } from "./router.js";

export function Layout(props: { title: string; children: ComponentChildren }) {
  const up = useConnected();
  document.title = `${props.title} · skyflow`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href.overview()}>
          skyflow
        </a>
        <nav aria-label="Main">
          <a href={href.overview()}>Overview</a>
          {mode === "dev" ? <a href={href.dev()}>Pushes &amp; pubsub</a> : null}
        </nav>
        <span class={`conn ${up ? "up" : "down"}`} role="status" title="live updates">
          {up ? "live" : "reconnecting…"}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

export function Status(props: { status: string }) {
  return <span class={`status s-${props.status.replace(/[^a-z_-]/gi, "")}`}>{props.status}</span>;
}

export function Json(props: { value: unknown; label?: string }) {
  if (props.value === undefined || props.value === null)
    return <p class="muted">{props.label ? `no ${props.label}` : "none"}</p>;
  return <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>;
}

export function Problem(props: { text: string }) {
  return <li class="problem">{props.text}</li>;
}

export function Loading(props: { error?: string }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : (
    <p class="muted">Loading…</p>
  );
}

export function RunsTable(props: {
  runs: RunSummary[];
  now: number;
  showWorkflow?: boolean;
  caption?: string;
}) {
  if (props.runs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <div class="table-wrap">
      <table class="runs">
        {props.caption ? <caption>{props.caption}</caption> : null}
        <thead>
          <tr>
            <th scope="col">Run</th>
            {props.showWorkflow !== false ? <th scope="col">Workflow</th> : null}
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((r) => (
            <tr key={r.id} data-run={r.id}>
              <td data-label="Run">
                <a class="mono" href={href.run(r.id)} title={r.id}>
                  {shortId(r.id)}
                </a>
              </td>
              {props.showWorkflow !== false ? (
                <td data-label="Workflow">
                  <a href={href.workflow(r.workflow)}>{r.workflow}</a>
                </td>
              ) : null}
              <td data-label="Status">
                <Status status={r.status} />
              </td>
              <td data-label="Started" class="nowrap" title={localTime(r.createdAt)}>
                {ago(r.startedAt ?? r.createdAt, props.now)}
              </td>
              <td data-label="Duration" class="nowrap">
                {r.durationMs !== null ? duration(r.durationMs) : r.startedAt ? "running" : "–"}
              </td>
              <td data-label="Error" class="wrap">
                {r.error ? `${r.error.step}: ${r.error.name}: ${r.error.message}` : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A button that posts an action and says how it went; `done` reloads what the page shows. */
export function ActionButton(props: {
  path: string;
  label: string;
  confirm?: string;
  done: () => void;
  kind?: string;
}) {
  const [state, setState] = useState<{ busy?: boolean; message?: string; error?: string }>({});
  const run = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setState({ busy: true });
    try {
      setState({ message: await postAction(props.path) });
      props.done();
    } catch (err) {
      setState({ error: (err as Error).message });
    }
  };
  return (
    <span class="action">
      <button type="button" class={props.kind ?? ""} disabled={state.busy} onClick={run}>
        {props.label}
      </button>
      {state.message ? (
        <span class="ok" role="status">
          {state.message}
        </span>
      ) : null}
      {state.error ? (
        <span class="error" role="alert">
          {state.error}
        </span>
      ) : null}
    </span>
  );
}
