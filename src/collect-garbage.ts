// A full garbage collection on demand, for the daemon once it has started (main.ts): no I/O.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Gc = () => void;

/**
 * V8's gc(), without starting Node with --expose-gc: a context made while the flag is set gets it as a
 * global (the flag is put back at once, so later contexts do not). Undefined where V8 refuses.
 */
function exposedGc(): Gc | undefined {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return own as Gc;
  setFlagsFromString("--expose-gc");
  try {
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as Gc) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

/**
 * Collects the whole heap now, young generation included. The daemon's start (loading, migrations, the
 * triggers' warm-up and rehearsal) leaves its garbage and its survivors in the young generation, and the
 * first collections after it came while the first changes were handled: over bench/peers.ts latency's rounds,
 * scavenges of 3.9 and 6.1 ms within a fresh daemon's first second, against 0.6 to 1.3 ms after. Returns
 * whether it collected (false where gc() could not be had).
 */
export function collectGarbage(): boolean {
  const gc = exposedGc();
  if (!gc) return false;
  gc();
  return true;
}
