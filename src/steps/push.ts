// The `push` step: push:user or push:device with the notification as given; the output is the server's
// per-user or per-device answer.
import { FatalStepError } from "../errors.js";
import { asMap, isMapValue, optString, stringList } from "./common.js";
import type { StepKind } from "./types.js";

export const push: StepKind<unknown, { results: unknown[] }> = {
  kind: "push",
  parse(block) {
    if (!isMapValue(block)) return [];
    if ((block.users === undefined) === (block.devices === undefined)) {
      return [{ path: [], message: "push needs exactly one of users or devices" }];
    }
    return [];
  },
  async run(ctx) {
    const b = asMap(ctx.input, "push");
    const topic = optString(b.topic, "push.topic");
    if (b.notification === undefined) {
      throw new FatalStepError("InvalidArgument", "push.notification: a notification is required");
    }
    const sk = ctx.clients.skygear;
    const opts = { signal: ctx.signal };
    if (b.users !== undefined) {
      const users = stringList(b.users, "push.users").map((u) => (u.startsWith("user/") ? u.slice(5) : u));
      return { results: await sk.pushToUsers(users, b.notification, topic, opts) };
    }
    const devices = stringList(b.devices, "push.devices");
    return { results: await sk.pushToDevices(devices, b.notification, topic, opts) };
  },
};
