// Turns the engine's run and step events into log lines (readable under `dev`, JSON under `start`) and
// metrics. Errors are logged by name and message only; inputs and outputs stay in the run store.
import type { RunEvent, StepEvent } from "./engine/runner.js";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

/** The engine's events, as observe.ts reads them. */
export type RunEventLike = RunEvent;
export type StepEventLike = StepEvent;

export interface Observable {
  on(event: "run", listener: (e: RunEventLike) => void): unknown;
  on(event: "step", listener: (e: StepEventLike) => void): unknown;
}

const short = (id: string) => id.slice(0, 8);

export interface ObserveOptions {
  /**
   * Log a run's start and each succeeded step at info (`skyflow dev`, where one watches one's steps). Otherwise
   * (`skyflow start`) a run logs one line at info, as it ends, and those at debug: a daemon draining a backlog
   * spent 7.5% of its CPU on three lines per run. Failures, retries and resumes are logged at warn/info either way.
   */
  perStep?: boolean;
}

export function observeEngine(
  engine: Observable,
  log: Logger,
  metrics: Metrics,
  opts: ObserveOptions = {},
): void {
  const detail = opts.perStep ? "info" : "debug";
  engine.on("run", (e) => {
    if (e.type === "started") {
      metrics.runStarted(e.workflow);
      if (log.isLevelEnabled(detail))
        log[detail]({ workflow: e.workflow, run: e.runId }, `run ${short(e.runId)} ${e.workflow} started`);
      return;
    }
    const fields = { workflow: e.workflow, run: e.runId, durationMs: e.durationMs };
    const head = `run ${short(e.runId)} ${e.workflow}`;
    switch (e.type) {
      case "resumed":
        log.info(fields, `${head} resumed`);
        break;
      case "succeeded":
        metrics.runFinished(e.workflow, e.type, seconds(e.durationMs));
        log.info(fields, `${head} succeeded in ${e.durationMs ?? "?"}ms`);
        break;
      default: {
        metrics.runFinished(e.workflow, e.type, seconds(e.durationMs));
        const why = e.error ? `: step ${e.error.step}: ${e.error.name}: ${e.error.message}` : "";
        log.warn({ ...fields, error: e.error }, `${head} ${e.type}${why}`);
      }
    }
  });
  engine.on("step", (e) => {
    const status = e.type === "retried" ? "failed" : e.type;
    metrics.stepFinished(e.workflow, e.kind, status, e.durationMs / 1000);
    if (e.type === "retried") metrics.stepRetried(e.workflow, e.kind);
    if (e.type === "succeeded" && !log.isLevelEnabled(detail)) return;
    const fields = { workflow: e.workflow, run: e.runId, step: e.stepKey, attempt: e.attempt };
    const head = `run ${short(e.runId)} ${e.workflow} step ${e.stepKey} (${e.kind})`;
    const try_ = e.attempt > 1 ? ` try ${e.attempt}` : "";
    if (e.type === "succeeded") {
      log[detail](fields, `${head}${try_} succeeded in ${e.durationMs}ms`);
    } else {
      const what = e.type === "retried" ? "failed, will retry" : "failed";
      log.warn(
        { ...fields, error: e.error },
        `${head}${try_} ${what}: ${e.error?.name}: ${e.error?.message}`,
      );
    }
  });
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
