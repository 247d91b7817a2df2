// Pubsub trigger, parse step: the channels the catalog listens on. No I/O.

import type { WorkflowDefinition } from "../../definition/types.js";
import { waitSourcesOf } from "../../park/match.js";

export function channelsInUse(workflows: WorkflowDefinition[]): Set<string> {
  const out = new Set<string>();
  for (const wf of workflows) {
    if (!wf.enabled) continue;
    for (const t of wf.triggers) if (t.kind === "pubsub") out.add(t.channel);
  }
  // Channels a wait_for waits on are listened to too (src/engine/park).
  for (const c of waitSourcesOf(workflows).channels) out.add(c);
  return out;
}
