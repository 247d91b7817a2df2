#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).
// V8's heap sizes (bin/heap.js), set before the rest loads.
import "./heap.js";

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
