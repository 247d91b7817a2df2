// The daemon's Prometheus metrics (prom-client) in a registry of its own. Labels are workflow names, step
// kinds, statuses and trigger kinds only: never a key, a token, a record id or user data.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface MetricsOptions {
  /** Node process metrics (memory, event loop lag); off in tests. */
  defaultMetrics?: boolean;
  /** Rows waiting in the record trigger's outbox; read at scrape time. */
  outboxDepth?: () => Promise<number>;
  /** Runs in flight in this engine; read at scrape time. */
  inFlight?: () => number;
  /** Workflows per status (enabled, disabled, paused, broken); read at scrape time. */
  workflowStatuses?: () => Record<string, number>;
  /** Runs parked in the database, by what they wait for (sleep, wait_for, call, retry); read at scrape time. */
  parkedRuns?: () => Promise<Record<string, number>>;
}

export interface TriggerStatsLike {
  outboxDepth?: number;
  lagMs?: number;
  cronLatenessMs?: number;
  pubsubRetrying?: number;
  pubsubDropped?: number;
}

export interface Metrics {
  registry: Registry;
  runStarted(workflow: string): void;
  runFinished(workflow: string, status: string, seconds?: number): void;
  stepFinished(workflow: string, kind: string, status: string, seconds: number): void;
  stepRetried(workflow: string, kind: string): void;
  /** The triggers' latest figures (outbox depth, record trigger lag, cron lateness), read at scrape time. */
  setTriggerStats(read: () => TriggerStatsLike): void;
  /** Time from a workflow file's write to its version being live. */
  reloadLatency(seconds: number): void;
  render(): Promise<string>;
  contentType: string;
}

const FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "skyflow_" });
  const reg = { registers: [registry] };
  const started = new Counter({
    name: "skyflow_runs_started_total",
    help: "Runs started, per workflow",
    labelNames: ["workflow"],
    ...reg,
  });
  const finished = new Counter({
    name: "skyflow_runs_finished_total",
    help: "Runs finished, per workflow and final status (succeeded, failed, cancelled)",
    labelNames: ["workflow", "status"],
    ...reg,
  });
  const runDuration = new Histogram({
    name: "skyflow_run_duration_seconds",
    help: "Run duration from start to finish",
    labelNames: ["workflow", "status"],
    buckets: FAST,
    ...reg,
  });
  const stepDuration = new Histogram({
    name: "skyflow_step_duration_seconds",
    help: "Duration of one step try",
    labelNames: ["workflow", "kind", "status"],
    buckets: FAST,
    ...reg,
  });
  const retries = new Counter({
    name: "skyflow_step_retries_total",
    help: "Step tries that failed and were scheduled again",
    labelNames: ["workflow", "kind"],
    ...reg,
  });
  const reload = new Histogram({
    name: "skyflow_reload_latency_seconds",
    help: "Time from a workflow file's write to its new version being live",
    buckets: FAST,
    ...reg,
  });
  let triggerStats: (() => TriggerStatsLike) | undefined;
  registerGauges(registry, opts);
  registerTriggerGauges(registry, () => triggerStats?.());
  return {
    registry,
    runStarted: (workflow) => started.inc({ workflow }),
    runFinished(workflow, status, seconds) {
      finished.inc({ workflow, status });
      if (seconds !== undefined) runDuration.observe({ workflow, status }, seconds);
    },
    stepFinished: (workflow, kind, status, seconds) =>
      stepDuration.observe({ workflow, kind, status }, seconds),
    stepRetried: (workflow, kind) => retries.inc({ workflow, kind }),
    setTriggerStats(read) {
      triggerStats = read;
    },
    reloadLatency: (seconds) => reload.observe(seconds),
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** Gauges read at scrape time, so nothing polls between scrapes. */
function registerGauges(registry: Registry, opts: MetricsOptions): void {
  const reg = { registers: [registry] };
  const { outboxDepth, inFlight, workflowStatuses, parkedRuns } = opts;
  if (parkedRuns) {
    new Gauge({
      name: "skyflow_runs_parked",
      help: "Runs parked in the database (no engine holds them), by what they wait for: sleep, wait_for, call, retry",
      labelNames: ["waiting_for"],
      ...reg,
      async collect() {
        const counts = await parkedRuns().catch(() => undefined);
        this.reset();
        if (!counts) return;
        for (const k of ["sleep", "wait_for", "call", "retry"]) this.set({ waiting_for: k }, counts[k] ?? 0);
      },
    });
  }
  if (outboxDepth) {
    optionalGauge(registry, "skyflow_outbox_depth", "Record changes waiting in the trigger outbox", () =>
      outboxDepth().catch(() => undefined),
    );
  }
  if (inFlight) {
    new Gauge({
      name: "skyflow_runs_in_flight",
      help: "Runs in flight in this engine",
      ...reg,
      collect() {
        this.set(inFlight());
      },
    });
  }
  if (workflowStatuses) {
    new Gauge({
      name: "skyflow_workflows",
      help: "Workflows per status (enabled, disabled, paused, broken)",
      labelNames: ["status"],
      ...reg,
      collect() {
        this.reset();
        for (const [status, n] of Object.entries(workflowStatuses())) this.set({ status }, n);
      },
    });
  }
}

/** The triggers keep their latest lag and lateness; none before the first event (no sample, never NaN). */
function registerTriggerGauges(registry: Registry, read: () => TriggerStatsLike | undefined): void {
  const gauge = (name: string, help: string, pick: (s: TriggerStatsLike) => number | undefined) =>
    optionalGauge(registry, name, help, () => {
      const stats = read();
      return stats ? pick(stats) : undefined;
    });
  gauge(
    "skyflow_trigger_outbox_depth",
    "Record changes waiting in the trigger outbox (as the triggers last saw it)",
    (s) => s.outboxDepth,
  );
  gauge(
    "skyflow_trigger_lag_seconds",
    "Latest delay from a record change's commit to its runs being queued",
    (s) => (s.lagMs === undefined ? undefined : s.lagMs / 1000),
  );
  gauge("skyflow_cron_lateness_seconds", "Latest delay of a cron fire behind its scheduled time", (s) =>
    s.cronLatenessMs === undefined ? undefined : s.cronLatenessMs / 1000,
  );
  gauge(
    "skyflow_pubsub_messages_retrying",
    "Pubsub messages waiting to try storing their runs again (the database was unavailable)",
    (s) => s.pubsubRetrying,
  );
  gauge(
    "skyflow_pubsub_messages_dropped",
    "Pubsub messages given up since this process started: their runs could not be stored",
    (s) => s.pubsubDropped,
  );
}

/**
 * A gauge read at scrape time that has no sample while it has no value (before a first event, or when the
 * database does not answer): Prometheus then sees no series rather than NaN.
 */
function optionalGauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | undefined | Promise<number | undefined>,
): void {
  let known = false;
  const g = new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      const v = await read();
      known = v !== undefined && Number.isFinite(v);
      if (known) this.set(v as number);
    },
  });
  const sampled = g.get.bind(g);
  g.get = async () => {
    const m = await sampled();
    return known ? m : { ...m, values: [] };
  };
}
