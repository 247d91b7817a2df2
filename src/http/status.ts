// The daemon's own HTTP endpoints: /healthz (alive), /readyz (database, Skygear and pubsub reachable),
// /metrics (Prometheus text), under an optional path prefix so `dev` can mount them on the Skygear server's
// port under /_skyflow/. The dashboard (dashboard.ts) is chained after it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Metrics } from "../metrics.js";

/** A readiness check resolves when its dependency answers and rejects (or times out) otherwise. */
export type ReadyCheck = () => Promise<void>;

export interface StatusOptions {
  /** "" for a dedicated port, "/_skyflow" when sharing the Skygear server's port. */
  prefix?: string;
  checks: Record<string, ReadyCheck>;
  metrics: Metrics;
  /** true once shutdown began: /readyz then answers 503 so balancers stop sending work. */
  stopping?: () => boolean;
  checkTimeoutMs?: number;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** Returns a handler that answers its paths and resolves false for any other, so it can be chained. */
export function createStatusHandler(opts: StatusOptions): RouteHandler {
  const prefix = opts.prefix ?? "";
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith(prefix)) return false;
    const path = url.pathname.slice(prefix.length) || "/";
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (path === "/healthz") {
      send(res, 200, "application/json", JSON.stringify({ status: "ok" }));
    } else if (path === "/readyz") {
      const report = await readiness(opts);
      send(res, report.ready ? 200 : 503, "application/json", JSON.stringify(report));
    } else if (path === "/metrics") {
      send(res, 200, opts.metrics.contentType, await opts.metrics.render());
    } else {
      return false;
    }
    return true;
  };
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string; ms: number }>;
}

export async function readiness(opts: StatusOptions): Promise<ReadinessReport> {
  const timeout = opts.checkTimeoutMs ?? 2000;
  const entries = await Promise.all(
    Object.entries(opts.checks).map(async ([name, check]) => {
      const t0 = performance.now();
      try {
        await withTimeout(check(), timeout, name);
        return [name, { ok: true, ms: round(performance.now() - t0) }] as const;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        return [name, { ok: false, error, ms: round(performance.now() - t0) }] as const;
      }
    }),
  );
  const checks: ReadinessReport["checks"] = Object.fromEntries(entries);
  if (opts.stopping?.()) checks.shutdown = { ok: false, error: "shutting down", ms: 0 };
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}

function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms}ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

const round = (ms: number) => Math.round(ms * 100) / 100;
