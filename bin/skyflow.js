#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).
import { setFlagsFromString } from "node:v8";

// Set before the rest loads: V8's young generation stays at its initial size (1 MB semi-spaces) instead of
// growing to 16 MB ones. A daemon's garbage is short-lived; the larger young generation bought no measurable
// speed here (bench/peers.ts) and cost about 30 MB of resident memory, idle and under load.
setFlagsFromString("--semi-space-growth-factor=1");
// And the old generation's limit grows to 1.5 times what survived the last full collection, where V8's own
// factor (up to 4) let it reach about 110 MB on 25-28 MB live while draining a backlog. In alternating runs of
// a 5,000-change backlog (bench/peers.ts --only=ab, load 12-17): peak RSS 100 against 158-163 MB, CPU per run
// 1.530 against 1.514 ms, the same throughput (ratio 1.00). 30% went down to 96 MB but cost 9% more CPU.
// Only the limit's growth: the heap grows as far as it needs to.
setFlagsFromString("--heap-growing-percent=50");

const { main } = await import("../dist/cli.js");

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
