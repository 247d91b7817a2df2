// Pubsub trigger, match step: a received message -> its event and the workflows it starts. No I/O.
import { redact } from "../../../errors.js";
import type { TriggerEvent, WorkflowDefinition } from "../../definition/types.js";
import { matchTriggers } from "../context.js";

/** `id` is a fresh uuid per received message: pubsub messages carry no id of their own. */
export function pubsubEvent(id: string, channel: string, data: unknown, at: Date): TriggerEvent {
  // Credential fields are not kept, not even for `when`: no part of a workflow reads them.
  return { id, type: "pubsub", at: at.toISOString(), channel, data: redact(data) };
}

export function matchPubsub(
  event: TriggerEvent,
  workflows: WorkflowDefinition[],
  env: Record<string, string>,
  now: Date,
  onWhenError: (wf: WorkflowDefinition, err: unknown) => void,
): WorkflowDefinition[] {
  return matchTriggers(
    event,
    workflows,
    { env, now, onWhenError },
    (t) => t.kind === "pubsub" && t.channel === event["channel"],
  );
}
