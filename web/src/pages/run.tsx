// `/runs/<id>`: the run's status and controls (retry a failed run from its failed step, cancel one not
// finished), what it waits for, its event and output, child and parent runs, and the step timeline: one bar
// per try placed by start offset and duration, each try's input, output and error as stored (redacted).
import { useRef, useState } from "preact/hooks";
import type { WaitInfo } from "../../../src/engine/park/wait-info.js";
import type { RunDetail, TryView } from "../../../src/http/api-types.js";
import { useLive, useNow } from "../api.js";
import { between, cancellable, duration, finished, localTime, retryable, shortId } from "../format.js";
import { href } from "../router.js";
import { buildRows, place, type Row, runWindow } from "../timeline.js";
import { ActionButton, Json, Layout, Loading, RunsTable, Status } from "../ui.js";

export function RunPage(props: { id: string }) {
  const current = useRef<RunDetail | undefined>(undefined);
  // While the run goes on, any run's change may be a new child of it; once it finished, only its own or a
  // known child's change matters.
  const run = useLive<RunDetail>(`/api/runs/${encodeURIComponent(props.id)}`, (e) => {
    if (e.type !== "runs") return false;
    const r = current.current;
    if (!r || !finished(r.status)) return true;
    const mine = new Set([r.id, ...r.children.map((c) => c.id)]);
    return e.runs.some((c) => mine.has(c.id) || c.workflow === "");
  });
  const r = run.data;
  current.current = r;
  const now = useNow(r ? !finished(r.status) : false);
  if (!r) {
    return (
      <Layout title={`run ${shortId(props.id)}`}>
        <h1>Run {shortId(props.id)}</h1>
        <Loading error={run.error} />
      </Layout>
    );
  }
  const took = r.durationMs ?? between(r.startedAt, r.finishedAt, now);
  return (
    <Layout title={`run ${shortId(r.id)} ${r.workflow}`}>
      <h1>
        Run <span class="mono">{shortId(r.id)}</span> of <a href={href.workflow(r.workflow)}>{r.workflow}</a>{" "}
        <Status status={r.status} />
      </h1>
      <div class="controls">
        {retryable(r.status) ? (
          <ActionButton
            path={`/api/runs/${r.id}/retry`}
            label="Retry from the failed step"
            done={run.reload}
            kind="primary"
          />
        ) : null}
        {cancellable(r.status) ? (
          <ActionButton
            path={`/api/runs/${r.id}/cancel`}
            label="Cancel run"
            confirm="Cancel this run?"
            done={run.reload}
            kind="danger"
          />
        ) : null}
      </div>
      {r.error ? (
        <div class="run-error" role="alert">
          <strong>
            {r.error.step ? `step ${r.error.step}: ` : ""}
            {r.error.name}
          </strong>
          : {r.error.message}
        </div>
      ) : null}
      <Waiting run={r} now={now} />
      <dl class="facts">
        <dt>Run id</dt>
        <dd class="mono">{r.id}</dd>
        <dt>Version</dt>
        <dd class="mono">{r.version}</dd>
        <dt>Event</dt>
        <dd class="mono wrap">{r.eventId}</dd>
        <dt>Created</dt>
        <dd>{localTime(r.createdAt)}</dd>
        <dt>Started</dt>
        <dd>{localTime(r.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{localTime(r.finishedAt)}</dd>
        <dt>Duration</dt>
        <dd>{duration(took)}</dd>
        <dt>Run attempt</dt>
        <dd>{r.attempt}</dd>
        {r.parent ? (
          <>
            <dt>Called by</dt>
            <dd>
              <a href={href.run(r.parent.run)}>
                {r.parent.workflow ?? "run"} {shortId(r.parent.run)}
              </a>
              {r.parent.step ? ` (step ${r.parent.step})` : ""}
            </dd>
          </>
        ) : null}
        {Object.entries(r.extra).map(([k, v]) => (
          <Extra key={k} name={k} value={v} />
        ))}
      </dl>
      <h2>Steps</h2>
      <Timeline run={r} now={now} reload={run.reload} />
      {r.children.length ? (
        <>
          <h2>Called runs</h2>
          <RunsTable runs={r.children} now={now} />
        </>
      ) : null}
      <div class="two">
        <section>
          <h2>Event</h2>
          <Json value={r.event} label="event" />
        </section>
        <section class="output-section">
          <h2>Output{r.outputFrom === "last step" ? " (the last step's)" : ""}</h2>
          <Json value={r.output} label="output" />
        </section>
      </div>
    </Layout>
  );
}

function Extra(props: { name: string; value: unknown }) {
  return (
    <>
      <dt>{props.name.replace(/_/g, " ")}</dt>
      <dd class="wrap">{typeof props.value === "string" ? props.value : JSON.stringify(props.value)}</dd>
    </>
  );
}

/**
 * The inner steps (in a foreach or parallel) that wait: a parked run's (runs.wait `inner`), or a running
 * run's whose other items or branches go on (each waiting step's `park` in the saved state).
 */
function innerWaits(r: RunDetail): WaitInfo[] {
  if (r.status === "running")
    return Object.values(r.steps).flatMap((st) => (st.status === "running" && st.park ? [st.park] : []));
  return r.wait?.inner ?? [];
}

/** One inner step that waits: for what, and until when. */
function InnerWait(props: { w: WaitInfo; now: number }) {
  const { w, now } = props;
  const left = w.until ? Date.parse(w.until) - now : null;
  return (
    <li data-wait-step={w.step}>
      <span class="mono">{w.step}</span> <Status status={w.kind === "sleep" ? "sleeping" : "waiting"} />{" "}
      {w.kind === "wait_for" ? (
        <>
          for <span class="mono">{w.source ?? "an event"}</span>
        </>
      ) : null}
      {w.kind === "call" && w.child ? (
        <>
          for run <a href={href.run(w.child)}>{`${w.workflow ?? ""} ${shortId(w.child)}`.trim()}</a> to end
        </>
      ) : null}
      {w.until ? (
        <>
          {w.kind === "wait_for" ? ", timing out at " : "until "}
          <time dateTime={w.until}>{localTime(w.until)}</time>
          {left !== null && left > 0 ? <span class="muted"> (in {duration(left)})</span> : null}
        </>
      ) : null}
    </li>
  );
}

/** A run not executing now: what it waits for (a time, an event, a called run) and until when. */
function Waiting(props: { run: RunDetail; now: number }) {
  const r = props.run;
  const inner = innerWaits(r);
  if (r.status === "running" && inner.length > 0)
    return (
      <section class="waiting" aria-label="what the run waits for">
        <p>
          <Status status="running" /> with {inner.length === 1 ? "a step" : `${inner.length} steps`} inside
          waiting:
        </p>
        <ul class="inner-waits">
          {inner.map((w) => (
            <InnerWait key={w.step} w={w} now={props.now} />
          ))}
        </ul>
      </section>
    );
  if (r.status !== "waiting" && r.status !== "sleeping" && r.status !== "pending") return null;
  const w = r.wait;
  const until = w?.until ?? (r.status === "pending" ? null : r.availableAt);
  const left = until ? Date.parse(until) - props.now : null;
  return (
    <section class="waiting" aria-label="what the run waits for">
      <p>
        <Status status={r.status} />{" "}
        {w ? (
          <>
            at step <span class="mono">{w.step}</span>
            {w.kind === "wait_for" ? (
              <>
                {" "}
                for <span class="mono">{w.source ?? "an event"}</span>
              </>
            ) : null}
            {w.kind === "call" && w.child ? (
              <>
                {" "}
                for run <a href={href.run(w.child)}>{`${w.workflow ?? ""} ${shortId(w.child)}`.trim()}</a> to
                end
              </>
            ) : null}
          </>
        ) : r.status === "pending" ? (
          "queued: an engine starts it when it has room"
        ) : (
          "parked"
        )}
        {until && Number.isFinite(Date.parse(until)) ? (
          <>
            {w?.kind === "wait_for" ? ", timing out at " : " until "}
            <time dateTime={until}>{localTime(until)}</time>
            {left !== null && left > 0 ? <span class="muted"> (in {duration(left)})</span> : null}
          </>
        ) : null}
        {w ? <span class="muted small"> · since {localTime(w.began)}</span> : null}
      </p>
      {w?.lookup ? (
        <p class="small">
          looked up by <code class="wrap">{w.lookup}</code>
          {w.match ? (
            <>
              , then released when <code class="wrap">{w.match}</code>
            </>
          ) : null}
        </p>
      ) : null}
      {inner.length > 1 ? (
        <ul class="inner-waits">
          {inner.map((w) => (
            <InnerWait key={w.step} w={w} now={props.now} />
          ))}
        </ul>
      ) : null}
      {r.wake ? (
        <p class="small">
          released by <code class="wrap">{JSON.stringify(r.wake)}</code>; resuming
        </p>
      ) : null}
    </section>
  );
}

function Timeline(props: { run: RunDetail; now: number; reload: () => void }) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const rows = buildRows(props.run.tree, props.now, expanded);
  if (rows.length === 0) return <p class="muted">No step has started yet.</p>;
  const win = runWindow(rows, props.run.startedAt, props.now);
  const expand = (key: string) => setExpanded(new Set([...expanded, key]));
  return (
    <section class="timeline" aria-label="step timeline">
      <div class="tl-scale" aria-hidden="true">
        <span>
          <span>0</span>
          <span>{duration(win.end - win.start)}</span>
        </span>
      </div>
      {rows.map((row) => (
        <TimelineRow
          key={row.key}
          row={row}
          win={win}
          now={props.now}
          run={props.run}
          expand={expand}
          reload={props.reload}
        />
      ))}
    </section>
  );
}

const KIND_WORD: Record<string, string> = { item: "item", branch: "branch" };

function TimelineRow(props: {
  row: Row<TryView>;
  win: { start: number; end: number };
  now: number;
  run: RunDetail;
  expand: (key: string) => void;
  reload: () => void;
}) {
  const { row, win, now, run } = props;
  const last = row.tries.at(-1);
  const children = run.children.filter((c) => c.parentStep === row.key);
  const summary = (
    <div class={`tl-row k-${row.kind}`} style={{ "--depth": row.depth }}>
      <span class="tl-label">
        {KIND_WORD[row.kind] ? <span class="muted small">{KIND_WORD[row.kind]} </span> : null}
        <span class="tl-name" title={row.key}>
          {row.label}
        </span>
        {last ? <span class="muted small"> {last.kind}</span> : null}
      </span>
      <span class="tl-status">
        <Status status={row.status} />
        <span class="tl-dur">{Number.isFinite(row.start) ? duration(row.end - row.start) : ""}</span>
        {row.tries.length > 1 ? <span class="muted small"> {row.tries.length} tries</span> : null}
      </span>
      <span class="tl-track" aria-hidden="true">
        {row.group ? (
          Number.isFinite(row.start) ? (
            <span class="tl-bar group" style={pos(place(row.start, row.end, win))} />
          ) : null
        ) : (
          row.tries.map((t) => {
            const s = Date.parse(t.startedAt);
            const e = t.finishedAt ? Date.parse(t.finishedAt) : Math.max(now, s);
            return (
              <span
                key={`${t.runAttempt}.${t.attempt}`}
                class={`tl-bar s-${t.status}`}
                style={pos(place(s, e, win))}
              />
            );
          })
        )}
      </span>
    </div>
  );
  if (row.kind === "more")
    return (
      <div class="tl-item tl-more" data-step={row.key}>
        <button
          type="button"
          class="link"
          style={{ "--depth": row.depth }}
          onClick={() => props.expand(row.parent ?? "")}
        >
          Show {row.label}
        </button>
      </div>
    );
  if (row.group)
    return (
      <div class="tl-item" data-step={row.key} data-kind={row.kind}>
        {summary}
      </div>
    );
  const inner = row.depth > 0;
  return (
    <details class="tl-item" data-step={row.key} data-kind={row.kind} open={row.status === "failed"}>
      <summary>{summary}</summary>
      <div class="tl-detail">
        {children.length ? (
          <p>
            Called run{children.length > 1 ? "s" : ""}:{" "}
            {children.map((c) => (
              <a key={c.id} href={href.run(c.id)} data-child={c.id}>
                {c.workflow} {shortId(c.id)} ({c.status}){" "}
              </a>
            ))}
          </p>
        ) : null}
        {inner && row.status === "failed" && retryable(run.status) ? (
          <p class="small">
            <ActionButton
              path={`/api/runs/${run.id}/retry`}
              label="Retry the run from this step"
              done={props.reload}
            />{" "}
            <span class="muted">the items and branches that succeeded are kept</span>
          </p>
        ) : null}
        {row.tries.map((t) => (
          <TryDetail key={`${t.runAttempt}.${t.attempt}`} t={t} now={now} />
        ))}
      </div>
    </details>
  );
}

function TryDetail(props: { t: TryView; now: number }) {
  const { t } = props;
  return (
    <section class="try">
      <h3>
        Try {t.attempt}
        {t.runAttempt > 1 ? ` (run attempt ${t.runAttempt})` : ""}: <Status status={t.status} />{" "}
        {duration(between(t.startedAt, t.finishedAt, props.now))}
        <span class="muted small"> from {localTime(t.startedAt)}</span>
      </h3>
      {Object.entries(t.extra).map(([k, v]) => (
        <p key={k} class="small">
          {k.replace(/_/g, " ")}: <span class="mono">{typeof v === "string" ? v : JSON.stringify(v)}</span>
        </p>
      ))}
      {t.error ? (
        <div class="try-error">
          <h4>Error</h4>
          <Json value={t.error} label="error" />
        </div>
      ) : null}
      <div class="two">
        <div>
          <h4>Input</h4>
          <Json value={t.input} label="input" />
        </div>
        <div>
          <h4>Output</h4>
          <Json value={t.output} label="output" />
        </div>
      </div>
    </section>
  );
}

const pos = (p: { left: number; width: number }) => ({ left: `${p.left}%`, width: `${p.width}%` });
