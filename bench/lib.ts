// What every benchmark shares: percentiles and a scratch database on DATABASE_URL's server.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { appSchemaName } from "../src/config.js";
import { compileTemplate } from "../src/engine/definition/expressions.js";
import type { StepDefinition } from "../src/engine/definition/types.js";
import { silentLogger } from "../src/log.js";
import { startSkygearServer } from "../src/server/http.js";
import { createSkygearHandler } from "../src/server/index.js";
import { createContainer } from "../src/skygear/container.js";
import { createPubsubClient } from "../src/skygear/pubsub.js";

/** The p-th percentile (0-100) of the samples; NaN when there are none. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

export const median = (xs: number[]): number => pct(xs, 50);

const locate = (path: string) => ({ file: "bench.yaml", line: 1, column: 1, path });

/** A step as the definition loader builds it from YAML; `input` may hold `${{ }}` expressions. */
export function step(
  id: string,
  kind: string,
  input: unknown,
  retry?: Partial<StepDefinition["retry"]>,
): StepDefinition {
  return {
    id,
    key: id,
    name: kind,
    kind,
    input: compileTemplate(input, locate),
    retry: { attempts: 3, backoff: "fixed", delayMs: 100, maxDelayMs: 100, jitter: false, ...retry },
    timeoutMs: 30_000,
    continueOnError: false,
    line: 1,
    column: 1,
  };
}

/** A fresh database named `bench_<label>_…`, dropped by `drop()`. */
export async function scratchDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("set DATABASE_URL to a Postgres server for the bench");
  const name = `bench_${label}_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * CPU time (ms, user + system) a process has used so far, from /proc, or one of its threads' (thread = pid:
 * the main thread, where the JavaScript runs); undefined when it is gone.
 */
export function procCpuMs(pid: number, thread?: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(
      thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
      "utf8",
    );
  } catch {
    return undefined;
  }
  // Fields after "(comm) ": state is 0, utime 11, stime 12; clock ticks are 1/100 s (Linux USER_HZ).
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM: the peak RSS); undefined when the process is gone. */
export function procMemMb(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Postgres CPU of some backends only: `pids` says which (e.g. the bench's own connections, from
 * pg_stat_activity), read from /proc on this machine. `start()` then `ms()`: the CPU those backends used in
 * between; a backend seen only at the end counts from its start, one gone by then counts what it had used
 * when last seen. Never the other sessions of a shared server. Undefined when Postgres runs elsewhere.
 */
export class BackendCpu {
  private readonly seen = new Map<number, { from: number; last: number }>();
  private remote = false;
  constructor(private readonly pids: () => Promise<number[]>) {}

  private async sample(initial: boolean): Promise<void> {
    for (const pid of await this.pids()) {
      const now = procCpuMs(pid);
      if (now === undefined) {
        if (initial) this.remote = true;
        continue;
      }
      const s = this.seen.get(pid);
      if (s) s.last = now;
      else this.seen.set(pid, { from: initial ? now : 0, last: now });
    }
  }

  async start(): Promise<this> {
    this.seen.clear();
    this.remote = false;
    await this.sample(true);
    return this;
  }

  async ms(): Promise<number | undefined> {
    await this.sample(false);
    if (this.remote && this.seen.size === 0) return undefined;
    let total = 0;
    for (const s of this.seen.values()) total += s.last - s.from;
    return total;
  }
}

/** The backend pids of a pool's open connections (those named `applicationName`) on the pool's database. */
export async function backendPids(
  pool: { query: (t: string, v: unknown[]) => Promise<{ rows: { pid: number }[] }> },
  applicationName: string,
): Promise<number[]> {
  const { rows } = await pool.query(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
    [applicationName],
  );
  return rows.map((r) => r.pid);
}

/**
 * The Skygear-compatible server of app `bench` over `pool` on a loopback port, a master-key container for the
 * engine's steps and a pubsub client; close `pubsub`, `server` and `handler` after.
 */
export async function benchSkygear(pool: pg.Pool) {
  const apiKey = "bench-api-key";
  const masterKey = "bench-master-key";
  const schema = appSchemaName("bench");
  const handler = createSkygearHandler({
    pool,
    config: { appName: "bench", schema, apiKey, masterKey },
    log: silentLogger(),
  });
  await handler.ready();
  const server = await startSkygearServer({ handler, port: 0 });
  const skygear = createContainer({ endpoint: server.url, masterKey });
  const pubsub = createPubsubClient({ endpoint: server.url, apiKey });
  return { schema, handler, server, skygear, pubsub };
}
