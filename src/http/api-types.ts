// The shapes of the dashboard's JSON API, shared by the server (src/http) and the client (web/src). Types
// only: the client's bundle imports nothing from the server.
import type { WaitInfo } from "../engine/park/wait-info.js";
import type { Problem } from "../errors.js";

/** A parked run's wait, with the lookup that finds a wait_for's run among the waiting ones. */
export interface WaitView extends WaitInfo {
  /** wait_for: how the run is found, `<incoming side> == <this run's value>`. */
  lookup?: string;
  /** wait_for: the whole match, when it holds more than the lookup. */
  match?: string;
}

export interface WorkflowRow {
  name: string;
  status: "enabled" | "disabled" | "paused" | "broken";
  version: string;
  file: string;
  description?: string;
  triggers: string[];
  lastRun: { id: string; status: string; at: string } | null;
  problems: string[];
}

export interface RunSummary {
  id: string;
  workflow: string;
  version: string;
  status: string;
  attempt: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  durationMs: number | null;
  error: { name: string; message: string; step: string } | null;
}

export interface TryView {
  stepKey: string;
  kind: string;
  attempt: number;
  runAttempt: number;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  input: unknown;
  output: unknown;
  error: unknown;
  /** Columns beyond these (who the step acted as, say), as stored. */
  extra: Record<string, unknown>;
}

export interface RunDetail extends RunSummary {
  event: unknown;
  eventId: string;
  /** The run's output: its own column when the engine stores one, else the last top-level step's output. */
  output: unknown;
  outputFrom: "run" | "last step" | null;
  availableAt: string | null;
  leaseOwner: string | null;
  cancelRequestedAt: string | null;
  /**
   * What a sleeping or waiting run waits for, as stored in runs.wait: the step, since and until when, the
   * record type or channel (wait_for), the child (call), or every inner step that waits (`inner`).
   */
  wait: WaitView | null;
  /** What released a parked run early (a matching event, its child's end), until it resumes. */
  wake: Record<string, unknown> | null;
  /** Per step key, as the run's saved state has it (status and tries begun), including steps not started. */
  steps: Record<string, { status: string; attempts: number; park?: WaitInfo }>;
  tries: TryView[];
  /**
   * The tries as the tree of steps: a foreach's items (`[3]`) and a parallel's branches under it, each
   * with its inner steps and their tries (see src/engine/store/step-tree.ts).
   */
  tree: TreeNode[];
  parent: { run: string; workflow?: string; step?: string } | null;
  /** The runs it called; `parentStep` is the calling step's instance key (`remind[3].ask`). */
  children: (RunSummary & { parentStep: string | null })[];
  extra: Record<string, unknown>;
}

export interface WorkflowDetail {
  name: string;
  file: string;
  status: string;
  description?: string;
  version: string | null;
  /** The file's text now: for a broken file, the text its problems point into (not the live version). */
  source: string;
  problems: (Problem & { text: string })[];
  triggers: { kind: string; text: string; nextAt: string | null }[];
  steps: { key: string; kind: string; name: string; line: number; as?: unknown; phase: string }[];
  versions: { version: string; file: string; createdAt: string; live: boolean }[];
  runs: RunSummary[];
  paused: boolean;
}

export interface PubsubMessage {
  seq: number;
  at: string;
  hub: string;
  channel: string;
  data: unknown;
  /** Sockets it reached. */
  sent: number;
}

export interface PushView {
  id: string;
  kind: "user" | "device";
  ids: string[];
  notification: unknown;
  topic: string | null;
  result: unknown;
  devices: unknown[];
  createdAt: string;
}

export interface TreeNode {
  label: string;
  kind: "step" | "item" | "branch";
  key?: string;
  tries: TryView[];
  children: TreeNode[];
}
