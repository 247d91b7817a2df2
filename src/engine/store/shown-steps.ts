// How a run's steps are shown (runs API, dashboard, `skyflow runs show`, `skyflow test`) beyond the rows
// stored: an open try whose step is parked sleeps or waits, and a new run whose first try has no row yet is on
// its first step. No I/O.
import type { WaitInfo } from "../park/wait-info.js";

/** A saved run state's steps, as far as shown here (src/engine/state.ts). */
export type SavedSteps = Record<string, { status?: string; park?: { kind: WaitInfo["kind"] } }>;

/**
 * The steps that wait now, by instance key: a parked run's (runs.wait, and each inner one), and a live run's
 * inner steps that wait while other branches or items run (their state's `park`).
 */
export function parkedSteps(
  status: unknown,
  wait: WaitInfo | null | undefined,
  steps: SavedSteps | undefined,
): Map<string, WaitInfo["kind"]> {
  const out = new Map<string, WaitInfo["kind"]>();
  if (status === "waiting" || status === "sleeping") {
    for (const w of wait?.inner ?? (wait ? [wait] : [])) out.set(w.step, w.kind);
  }
  if (status === "running" || status === "waiting" || status === "sleeping") {
    for (const [key, st] of Object.entries(steps ?? {}))
      if (st.status === "running" && st.park && !out.has(key)) out.set(key, st.park.kind);
  }
  return out;
}

/** A try stored as running whose step waits: it sleeps (a sleep) or waits (an event, a called run). */
export function parkedStatus(
  status: string,
  finishedAt: unknown,
  kind: WaitInfo["kind"] | undefined,
): string {
  if (status !== "running" || finishedAt || !kind) return status;
  return kind === "sleep" ? "sleeping" : "waiting";
}

/**
 * A running run with no try stored and no step in its saved state is on its first step: a new run's first
 * try may run before anything of it is saved (its begin save is held back, and a sql step's row is written
 * by its COMMIT: runner.ts `begin`).
 */
export function onFirstStep(status: string, snapshot: unknown, storedTries: number): boolean {
  if (status !== "running" || storedTries > 0) return false;
  const steps = (snapshot as { steps?: SavedSteps } | null)?.steps;
  return !steps || Object.keys(steps).length === 0;
}

/** A workflow's first step, as the shown try of a run on it. */
export interface FirstStep {
  key: string;
  kind: string;
}

/** Finds the first step of a workflow's version; undefined when that version is not known here. */
export type FirstStepOf = (workflow: string, version: string) => Promise<FirstStep | undefined>;
