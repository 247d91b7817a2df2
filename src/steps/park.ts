// The steps that park a run: `sleep`, `wait_for` and `call`. Their try only reads its block and returns a
// Park request; the engine (src/engine/park) parks the run in Postgres, or ends the step at once when what
// it waits for is already there, and completes the step with the wake value when the run resumes.
import type { StepInput } from "../engine/definition/schema.js";
import { FatalStepError } from "../errors.js";
import { asMap, optString } from "./common.js";
import type { StepKind } from "./types.js";

export type ParkRequest =
  | { kind: "sleep"; ms?: number; until?: number }
  | {
      kind: "wait_for";
      source:
        | { kind: "record"; type: string; database: string; events: string[] }
        | { kind: "pubsub"; channel: string };
      timeoutMs: number;
    }
  | { kind: "call"; workflow: string; input: unknown; wait: boolean };

/** What a parking step's try returns: the engine parks the run (see src/engine/park/park.ts). */
export class Park {
  constructor(readonly request: ParkRequest) {}
}

/** At most 365 days, as the load check allows. */
const MAX_PARK_MS = 365 * 86_400_000;
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(v: unknown, what: string): number {
  let ms: number | undefined;
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) ms = v;
  const m = typeof v === "string" ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v) : null;
  if (m) ms = Number(m[1]) * UNITS[m[2]!]!;
  if (ms === undefined || ms > MAX_PARK_MS)
    throw new FatalStepError(
      "InvalidArgument",
      `${what}: expected a duration (250ms, 10s, 5m, 1h, 2d) of at most 365 days, got ${JSON.stringify(v)}`,
    );
  return Math.round(ms);
}

function timestampMs(v: unknown, what: string): number {
  const ms = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new FatalStepError("InvalidArgument", `${what}: expected a timestamp, got ${JSON.stringify(v)}`);
  return ms;
}

export const sleep: StepKind<StepInput<"sleep">, Park> = {
  kind: "sleep",
  async run(ctx) {
    const v = ctx.input;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const b = v as Record<string, unknown>;
      return new Park({ kind: "sleep", until: timestampMs(b.until, "sleep.until") });
    }
    return new Park({ kind: "sleep", ms: durationMs(v, "sleep") });
  },
};

export const waitFor: StepKind<StepInput<"wait_for">, Park> = {
  kind: "wait_for",
  async run(ctx) {
    const b = asMap(ctx.input, "wait_for");
    const timeoutMs = durationMs(b.timeout, "wait_for.timeout");
    if (b.record !== undefined) {
      const r = asMap(b.record, "wait_for.record");
      const type = optString(r.type, "wait_for.record.type");
      if (!type)
        throw new FatalStepError("InvalidArgument", "wait_for.record.type: a record type is required");
      const events = Array.isArray(r.events) ? r.events.map(String) : ["create", "update"];
      const database = optString(r.database, "wait_for.record.database") ?? "_public";
      return new Park({ kind: "wait_for", source: { kind: "record", type, database, events }, timeoutMs });
    }
    const p = asMap(b.pubsub, "wait_for.pubsub");
    const channel = optString(p.channel, "wait_for.pubsub.channel");
    if (!channel) throw new FatalStepError("InvalidArgument", "wait_for: needs record or pubsub");
    return new Park({ kind: "wait_for", source: { kind: "pubsub", channel }, timeoutMs });
  },
};

export const call: StepKind<StepInput<"call">, Park> = {
  kind: "call",
  async run(ctx) {
    const b = asMap(ctx.input, "call");
    const workflow = optString(b.workflow, "call.workflow");
    if (!workflow) throw new FatalStepError("InvalidArgument", "call.workflow: a workflow name is required");
    return new Park({ kind: "call", workflow, input: b.input ?? {}, wait: b.wait !== false });
  },
};
