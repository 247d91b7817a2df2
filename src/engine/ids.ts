// Identifiers derived from what they name, so that the same thing gets the same id on every try: run ids
// (by workflow and event id) and uuid() values (by run, step and call). They are name-based UUIDs of
// version 5 (RFC 9562) in skyflow's namespace. Runs created before these (whose ids are SHA-256 digests
// stamped as version 4) keep deriving their uuid() values the old way: a run resumed after an upgrade makes
// the same records as the try it repeats.
import { hash } from "node:crypto";

/**
 * skyflow's UUID namespace (a random UUID chosen once). Every derived id depends on it: never change it,
 * or runs resumed across the change would derive other uuid() values and save second records.
 */
export const SKYFLOW_NAMESPACE = "6a026edd-b007-4530-bf20-7dd1c323eac6";

/**
 * A run's id, from its workflow and event id (the pair that makes a run unique). A trigger's transaction
 * commits without waiting for the WAL flush; should a database crash lose it, its change or cron fire is
 * claimed again with the same event id and the run comes back with the same id, so the uuid() values and
 * idempotency keys of a step it had already started are the same again (see runner.ts, early first try).
 */
export function runIdFor(workflow: string, eventId: string): string {
  return nameUuid(`run\u0000${workflow}\u0000${eventId}`);
}

const NAMESPACE_BYTES = Buffer.from(SKYFLOW_NAMESPACE.replace(/-/g, ""), "hex");

/**
 * uuid's v5(name, SKYFLOW_NAMESPACE), value for value: SHA-1 (FIPS 180-4) of the namespace's 16 bytes and
 * the name's UTF-8, computed here into buffers kept for it. Node's hash() of a Buffer.concat took 30-50 µs
 * of each record change's way to its run's first step in a daemon (its caches cold between changes:
 * buffers, OpenSSL's lookup of the digest), where this takes about a fifth; v5 itself took 0.1 ms.
 */
function nameUuid(name: string): string {
  // 16 namespace bytes, the name, 0x80, zeros, and the length in bits: whole 64-byte blocks.
  const max = 16 + name.length * 3;
  const cap = (((max + 8) >>> 6) + 1) << 6;
  if (block.length < cap) {
    block = new Uint8Array(cap * 2);
    block.set(NAMESPACE_BYTES, 0);
  }
  const len = 16 + utf8.encodeInto(name, block.subarray(16)).written!;
  const total = (((len + 8) >>> 6) + 1) << 6;
  block[len] = 0x80;
  block.fill(0, len + 1, total - 4);
  const bits = len * 8;
  block[total - 4] = bits >>> 24;
  block[total - 3] = (bits >>> 16) & 0xff;
  block[total - 2] = (bits >>> 8) & 0xff;
  block[total - 1] = bits & 0xff;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      const f =
        i < 20
          ? ((b & c) | (~b & d)) + 0x5a827999
          : i < 40
            ? (b ^ c ^ d) + 0x6ed9eba1
            : i < 60
              ? ((b & c) | (b & d) | (c & d)) + (0x8f1bbcdc | 0)
              : (b ^ c ^ d) + (0xca62c1d6 | 0);
      const t = (((a << 5) | (a >>> 27)) + f + e + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  // The first 16 bytes, version 5 and the RFC 9562 variant stamped in.
  h1 = (h1 & ~0xf000) | 0x5000;
  h2 = (h2 & 0x3fffffff) | 0x80000000;
  return `${hex8(h0)}-${hex4(h1 >>> 16)}-${hex4(h1)}-${hex4(h2 >>> 16)}-${hex4(h2)}${hex8(h3)}`;
}

let block = new Uint8Array(512);
block.set(NAMESPACE_BYTES, 0);
const w = new Int32Array(80);
const utf8 = new TextEncoder();
/** Two hex digits of each byte value: a run id's 36 characters from 16 lookups, not 4 toString and padStart. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** The low 16 bits of `n` in 4 hex digits. */
const hex4 = (n: number) => HEX[(n >>> 8) & 0xff]! + HEX[n & 0xff]!;
const hex8 = (n: number) => hex4(n >>> 16) + hex4(n);

/**
 * Value number `n` of uuid() in an expression resolved with `seed` (run id and step key) for run `runId`:
 * the same on every retry and resume. Runs with a legacy id keep the legacy derivation.
 */
export function stepUuid(runId: string, seed: string, n: number): string {
  if (isLegacyRunId(runId)) return legacyUuid(seed, n);
  return nameUuid(`uuid\u0000${seed}\u0000${n}`);
}

/**
 * Run ids derived before version 5 were stamped as version 4: the version digit of a stored run's id says
 * which derivation its uuid() values came from, for runs with no saved state yet as for the others.
 */
export function isLegacyRunId(runId: string): boolean {
  return VERSION_4.test(runId);
}

/** uuid's validate(id) && version(id) === 4, without loading its 20 modules into every daemon. */
const VERSION_4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The derivation before version 5: a SHA-256 digest of seed and call number stamped as a version-4 UUID. */
export function legacyUuid(seed: string, n: number): string {
  const b = hash("sha256", `${seed}\u0000${n}`, "buffer");
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A run id as runIdFor made it before version 5 (for tests of runs stored then). */
export function legacyRunIdFor(workflow: string, eventId: string): string {
  return legacyUuid(`run\u0000${workflow}\u0000${eventId}`, 0);
}
