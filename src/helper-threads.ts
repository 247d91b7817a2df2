// The daemon's threads other than its JavaScript thread, lowered to the least CPU priority once it has started
// (main.ts): V8's optimizing compiler and garbage-collector helpers, Node's delayed-task thread and libuv's
// pool. Linux only (elsewhere nothing is changed).
import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/**
 * The nice value they get by default (SKYFLOW_HELPER_NICE), the least priority. Why: a fresh daemon's V8
 * compiles its hot functions on those threads for its first tens of seconds. At 100 changes/s on two cores
 * that was about 1.1 ms of CPU per change (bench/peers.ts latency: the process's CPU less its main thread's),
 * as much as graphile-worker's whole process, and at the default priority it took a core from the Postgres
 * backends and from the daemon's own main thread, which then waited. At 19 those threads get the cores' idle
 * time and give way at once to any other task that wakes. The JavaScript thread keeps its priority.
 */
export const HELPER_NICE = 19;

/**
 * Sets every thread of this process but the main one to `nice`, where that lowers its priority (a thread
 * already lower is left; raising one would need a privilege). Linux keeps a nice value per thread, and
 * setpriority on a thread's id sets that thread's alone. Threads started later inherit the nice value of the
 * thread that starts them: libuv's pool and worker threads are started from the main thread, so they keep its.
 * Returns how many threads it lowered; 0 without /proc/self/task (not Linux).
 */
export function lowerHelperThreads(nice = HELPER_NICE): number {
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return 0;
  }
  let lowered = 0;
  for (const t of tids) {
    const tid = Number(t);
    if (tid === process.pid) continue;
    try {
      // getpriority and setpriority on a thread's id: that thread's nice value. Left when already as low.
      if (getPriority(tid) >= nice) continue;
      setPriority(tid, nice);
      lowered++;
    } catch {
      // The thread ended since the listing.
    }
  }
  return lowered;
}
