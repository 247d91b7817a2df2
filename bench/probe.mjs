// A preload for a daemon under a bench, to see where its slow moments come from: event-loop stalls (with the
// process's CPU time during each, near zero when it waited for a core) and garbage collections, written as
// JSON to $PROBE_DIR/probe-<pid>.json (default the OS's temp directory) when the process exits. Use:
//   PEER_SKYFLOW_NODE_ARGS="--import $PWD/bench/probe.mjs" PEER_DUMP=/tmp node --import tsx bench/peers.ts latency
// and line its stalls up with the records PEER_DUMP wrote (epoch milliseconds on both).
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";

const TICK_MS = 5;
const epochMs = () => performance.timeOrigin + performance.now();
const delay = monitorEventLoopDelay({ resolution: TICK_MS });
delay.enable();
/** [epoch ms the tick was due, ms late, ms of process CPU over the tick] for ticks more than 8 ms late. */
const stalls = [];
let last = performance.now();
let lastCpu = process.cpuUsage();
setInterval(() => {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const late = t - last - TICK_MS;
  if (late > 8) {
    const used = (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000;
    stalls.push([Math.round(epochMs() - (t - last)), Math.round(late * 10) / 10, Math.round(used * 10) / 10]);
  }
  last = t;
  lastCpu = cpu;
}, TICK_MS).unref();
/** [epoch ms, duration ms, V8's kind: 1 scavenge, 4 mark-compact, 8 incremental marking, 16 weak callbacks]. */
const gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcs.push([
      Math.round(performance.timeOrigin + e.startTime),
      Math.round(e.duration * 100) / 100,
      e.detail?.kind,
    ]);
}).observe({ entryTypes: ["gc"] });
process.on("exit", () => {
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const eventLoopDelay = { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
  writeFileSync(
    join(process.env.PROBE_DIR ?? tmpdir(), `probe-${process.pid}.json`),
    JSON.stringify({ eventLoopDelay, stalls, gcs }),
  );
});
