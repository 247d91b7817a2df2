// The `publish` step: one message on a pubsub channel through the shared publisher.
import { FatalStepError } from "../errors.js";
import { asMap, optString } from "./common.js";
import type { StepKind } from "./types.js";

export const publish: StepKind<unknown, Record<string, never>> = {
  kind: "publish",
  parse() {
    return [];
  },
  async run(ctx) {
    const b = asMap(ctx.input, "publish");
    const channel = optString(b.channel, "publish.channel");
    if (!channel) throw new FatalStepError("InvalidArgument", "publish.channel: a channel name is required");
    // A hub closes the socket on a pub without data, so an absent `data` is sent as an empty object.
    await ctx.clients.pubsub.publish(channel, b.data ?? {});
    return {};
  },
};
