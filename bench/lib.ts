// What every benchmark shares: percentiles and a scratch database on DATABASE_URL's server.
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { compileTemplate } from "../src/engine/definition/expressions.js";
import type { StepDefinition } from "../src/engine/definition/types.js";

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
 * CPU time (ms) used so far by the Postgres server's processes on this machine, from /proc; undefined when
 * Postgres runs elsewhere or /proc is missing. Clock ticks are 1/100 s (Linux USER_HZ).
 */
export function postgresCpuMs(): number | undefined {
  let ticks = 0;
  let found = false;
  let dirs: string[];
  try {
    dirs = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const d of dirs) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    if (!stat.includes("(postgres)")) continue;
    // Fields after "(comm) ": state is 0, utime 11, stime 12.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
    found = true;
  }
  return found ? ticks * 10 : undefined;
}
