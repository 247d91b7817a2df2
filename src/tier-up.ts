// V8's tier-up, set for the daemon once it has started (main.ts): no I/O beyond V8's flags.
import { setFlagsFromString } from "node:v8";

/**
 * V8's interrupt budget (how much bytecode a function runs between its checks for optimizing), a quarter of
 * V8's default (67,584 in Node 20). A fresh daemon runs a change's path interpreted or baseline-compiled for
 * its first seconds: over bench/peers.ts latency's 10 s rounds its CPU per change was twice graphile-worker's
 * and fell only over 40 s rounds. Set after start, not at it: from the start it optimized the start's code too
 * (idle RSS 72 against 65 MB). The trade: more is compiled, earlier (CPU per change over a whole round up ~4%).
 */
export const INTERRUPT_BUDGET = 16_896;

export function tierUpSooner(budget = INTERRUPT_BUDGET): void {
  setFlagsFromString(`--interrupt-budget=${budget}`);
}
