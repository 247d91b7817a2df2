// Client frames of the pubsub protocol (protocol §8) -> what the hub should do. Besides v1's checks, a frame
// is refused (error text, then close) when it nests too deep, holds a NUL or lone surrogate, or names a
// channel longer than MAX_CHANNEL_BYTES: nothing unstorable reaches subscribers (the engine's pubsub
// trigger stores what it receives in Postgres). No I/O.
import { SkygearServerError } from "../errors.js";
import { guardBody } from "../request-guard.js";

export type FrameCommand =
  | { kind: "sub"; channel: string }
  | { kind: "unsub"; channel: string }
  | { kind: "pub"; channel: string; data: unknown }
  /** A plain-text error frame, then close. */
  | { kind: "fatal"; message: string }
  /** The v1 text `Unknow action` (sic); the connection stays open. */
  | { kind: "unknown" };

/** Longest channel name accepted, in UTF-8 bytes (v1 has no limit; a name is held per subscription). */
export const MAX_CHANNEL_BYTES = 1024;

const fatal = (why: string): FrameCommand => ({
  kind: "fatal",
  message: `Error: ${why}. Closing Connection`,
});

/** `maxDepth`: how deep the frame may nest (bodyDepthLimit of the server's limits). */
export function parseFrame(text: string, maxDepth: number): FrameCommand {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: "fatal", message: "invalid JSON" };
  }
  if (!msg || typeof msg !== "object" || Array.isArray(msg))
    return { kind: "fatal", message: "invalid JSON" };
  try {
    guardBody(msg, maxDepth);
  } catch (err) {
    return fatal(err instanceof SkygearServerError ? err.message : "the frame cannot be read");
  }
  const m = msg as Record<string, unknown>;
  const action = m.action;
  if (action !== "sub" && action !== "unsub" && action !== "pub") return { kind: "unknown" };
  const channel = typeof m.channel === "string" ? m.channel : "";
  if (channel === "") return { kind: "fatal", message: "empty channel" };
  if (Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) {
    return fatal(`the channel name is longer than ${MAX_CHANNEL_BYTES} bytes`);
  }
  if (action === "pub") {
    if (m.data === undefined || m.data === null) return { kind: "fatal", message: "missing data" };
    return { kind: "pub", channel, data: m.data };
  }
  return { kind: action, channel };
}
