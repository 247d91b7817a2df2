// Pubsub trigger, parse step: the channels the catalog listens on. No I/O.
import type { WorkflowDefinition } from "../../definition/types.js";

export function channelsInUse(workflows: WorkflowDefinition[]): Set<string> {
  const out = new Set<string>();
  for (const wf of workflows) {
    if (!wf.enabled) continue;
    for (const t of wf.triggers) if (t.kind === "pubsub") out.add(t.channel);
  }
  return out;
}
