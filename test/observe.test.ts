// The log lines of a run under `start` (one at info, as the run ends; its start and steps at debug) and
// under `dev` (every step at info). A real pino logger writing to a stream; the events as the engine emits
// them. No I/O.
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { RunEvent, StepEvent } from "../src/engine/runner.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { observeEngine } from "../src/observe.js";

function lines(level: string, perStep: boolean) {
  const out: { level: number; msg: string }[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n").filter(Boolean)) out.push(JSON.parse(l));
      done();
    },
  });
  const engine = new EventEmitter();
  observeEngine(engine as never, createLogger({ level, destination }), createMetrics({}), { perStep });
  const run = { runId: "0123456789abcdef", workflow: "w" };
  engine.emit("run", { type: "started", ...run } satisfies RunEvent);
  const step = { ...run, stepKey: "s", kind: "sql", attempt: 1, durationMs: 3 };
  engine.emit("step", {
    type: "retried",
    ...step,
    error: { name: "E", message: "boom" },
  } satisfies StepEvent);
  engine.emit("step", { type: "succeeded", ...step, attempt: 2 } satisfies StepEvent);
  engine.emit("run", { type: "succeeded", ...run, durationMs: 9 } satisfies RunEvent);
  return out.map((l) => `${l.level} ${l.msg}`);
}

describe("observeEngine", () => {
  it("start at info: the run's end, and the failed try; no line for its start or its succeeded step", () => {
    expect(lines("info", false)).toEqual([
      "40 run 01234567 w step s (sql) failed, will retry: E: boom",
      "30 run 01234567 w succeeded in 9ms",
    ]);
  });

  it("start at debug, and dev at info: every line", () => {
    const all = [
      "run 01234567 w started",
      "run 01234567 w step s (sql) failed, will retry: E: boom",
      "run 01234567 w step s (sql) try 2 succeeded in 3ms",
      "run 01234567 w succeeded in 9ms",
    ];
    expect(lines("debug", false)).toEqual([`20 ${all[0]}`, `40 ${all[1]}`, `20 ${all[2]}`, `30 ${all[3]}`]);
    expect(lines("info", true)).toEqual([`30 ${all[0]}`, `40 ${all[1]}`, `30 ${all[2]}`, `30 ${all[3]}`]);
  });
});
