#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).
import { setFlagsFromString } from "node:v8";

// Set before the rest loads: V8's young generation stays at its initial size (1 MB semi-spaces) instead of
// growing to 16 MB ones. A daemon's garbage is short-lived; the larger young generation bought no measurable
// speed here (bench/peers.ts) and cost about 30 MB of resident memory, idle and under load.
setFlagsFromString("--semi-space-growth-factor=1");

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
