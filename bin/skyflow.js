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

// pg (lib/stream.js, as it loads) asks whether it runs on Cloudflare Workers: by `navigator.userAgent`, and
// where there is no `navigator` (Node 20; Node 21 and later have one) by building a fetch Response, which loads
// the undici bundled in Node: about 5.5 MB of resident memory (1.3 MB of it heap) in a daemon that never calls
// fetch (its HTTP steps use the undici package). The `navigator` of Node 21, as far as anything here reads it.
if (typeof globalThis.navigator === "undefined") {
  Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `Node.js/${process.versions.node.split(".")[0]}` },
    configurable: true,
    writable: true,
    enumerable: false,
  });
}

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
