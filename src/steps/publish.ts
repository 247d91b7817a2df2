// The `publish` step: one message on a pubsub channel through the shared publisher.
import type { StepInput } from "../engine/definition/schema.js";
import type { StepKind } from "./types.js";

export const publish: StepKind<StepInput<"publish">, Record<string, never>> = {
  kind: "publish",
  async run(ctx) {
    const b = ctx.input;
    // A hub closes the socket on a pub without data, so an absent `data` is sent as an empty object.
    await ctx.clients.pubsub.publish(b.channel, b.data ?? {});
    return {};
  },
};
