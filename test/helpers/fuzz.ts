// fast-check settings shared by the property tests: a fixed seed and a small run count, so CI is quick and
// repeatable; FUZZ_RUNS=n runs n cases per property and FUZZ_SEED=s explores other inputs (README,
// Development).
import type fc from "fast-check";

export const DEFAULT_SEED = 20_201_020;

export function fuzzParams<T>(ciRuns: number): fc.Parameters<T> {
  const runs = Number(process.env.FUZZ_RUNS);
  const seed = Number(process.env.FUZZ_SEED);
  return {
    numRuns: Number.isInteger(runs) && runs > 0 ? runs : ciRuns,
    seed: Number.isInteger(seed) ? seed : DEFAULT_SEED,
  };
}

/** Timeout of a property test: room for `ciRuns` (or FUZZ_RUNS) cases of `msPerRun` each. */
export function fuzzTimeout(ciRuns: number, msPerRun: number): number {
  const runs = Number(process.env.FUZZ_RUNS);
  return Math.max(30_000, (Number.isInteger(runs) && runs > 0 ? runs : ciRuns) * msPerRun);
}
