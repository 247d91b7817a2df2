// `/workflows/<name>`: status with pause/resume, triggers (cron's next fire), steps (who each acts as), the
// file's source with its problems marked at their lines, the stored versions and the recent runs; live.
import type { WorkflowDetail } from "../../../src/http/api-types.js";
import { useLive, useNow } from "../api.js";
import { ago, localTime } from "../format.js";
import { ActionButton, Layout, Loading, Problem, RunsTable, Status } from "../ui.js";

export function WorkflowPage(props: { name: string }) {
  const wf = useLive<WorkflowDetail>(`/api/workflows/${encodeURIComponent(props.name)}`, (e) =>
    e.type === "workflows"
      ? true
      : e.type === "runs"
        ? e.runs.some((r) => r.workflow === props.name || r.workflow === "")
        : false,
  );
  const now = useNow(true);
  const w = wf.data;
  if (!w) {
    return (
      <Layout title={props.name}>
        <h1>{props.name}</h1>
        <Loading error={wf.error} />
      </Layout>
    );
  }
  const path = `/api/workflows/${encodeURIComponent(w.name)}`;
  return (
    <Layout title={w.name}>
      <h1>
        {w.name} <Status status={w.status} />
      </h1>
      {w.description ? <p>{w.description}</p> : null}
      <p class="muted">
        <span class="mono">{w.file}</span>
        {w.version ? (
          <>
            {" "}
            · version <span class="mono">{w.version}</span>
          </>
        ) : null}
      </p>
      {w.version ? (
        <div class="controls">
          {w.paused ? (
            <ActionButton path={`${path}/resume`} label="Resume" done={wf.reload} kind="primary" />
          ) : (
            <ActionButton path={`${path}/pause`} label="Pause" done={wf.reload} />
          )}
          <span class="muted small">
            {w.paused
              ? "paused: its triggers start no runs"
              : "pausing stops its triggers; runs in flight go on"}
          </span>
        </div>
      ) : null}
      {w.problems.length ? (
        <section class="problem-box" aria-label="problems">
          <h2>Problems</h2>
          <p class="small">
            {w.version
              ? "The last good version stays live until the file is fixed."
              : "The file has never loaded."}
          </p>
          <ul class="problems">
            {w.problems.map((p) => (
              <Problem key={p.text} text={p.text} />
            ))}
          </ul>
        </section>
      ) : null}
      <div class="two">
        <section>
          <h2>Triggers</h2>
          <ul class="triggers">
            {w.triggers.map((t, i) => (
              <li key={`${i}${t.text}`}>
                <span class="mono">{t.text}</span>
                {t.nextAt ? (
                  <span class="small">
                    {" "}
                    · next {localTime(t.nextAt)} ({ago(t.nextAt, now)})
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
        <section>
          <h2>Steps</h2>
          <ol class="steps">
            {w.steps.map((s) => (
              <li key={`${s.phase}${s.key}`}>
                <span class="mono">{s.key}</span> <span class="muted">{s.kind}</span>
                {s.phase === "on_failure" ? <span class="muted small"> on failure</span> : null}
                {s.as !== undefined ? <span class="small as"> as {String(s.as)}</span> : null}
                <a class="small" href={`#L${s.line}`}>
                  {" "}
                  line {s.line}
                </a>
              </li>
            ))}
          </ol>
        </section>
      </div>
      <h2>Source</h2>
      <Source text={w.source} problems={w.problems} file={w.file} />
      <h2>Runs</h2>
      <RunsTable runs={w.runs} now={now} showWorkflow={false} />
      <h2>Versions</h2>
      <ul class="versions">
        {w.versions.map((v) => (
          <li key={v.version}>
            <span class="mono">{v.version}</span> {v.live ? <Status status="live" /> : null}
            {v.createdAt ? <span class="muted small"> first run {localTime(v.createdAt)}</span> : null}
          </li>
        ))}
      </ul>
    </Layout>
  );
}

function Source(props: { text: string; problems: WorkflowDetail["problems"]; file: string }) {
  const byLine = new Map<number, WorkflowDetail["problems"]>();
  for (const p of props.problems) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p]);
  const lines = props.text.replace(/\n$/, "").split("\n");
  return (
    <section class="source" aria-label={`source of ${props.file}`}>
      {lines.map((line, i) => {
        const n = i + 1;
        const here = byLine.get(n);
        return (
          <div key={n} id={`L${n}`} class={here ? "src-line bad" : "src-line"}>
            <span class="ln" aria-hidden="true">
              {n}
            </span>
            <code>{line || " "}</code>
            {here?.map((p) => (
              <div key={p.text} class="src-problem" role="note">
                {`${" ".repeat(Math.max(0, p.column - 1))}^ ${p.text}`}
              </div>
            ))}
          </div>
        );
      })}
    </section>
  );
}
