// Client frames of the pubsub protocol (protocol §8) -> what the hub should do. No I/O.

export type FrameCommand =
  | { kind: "sub"; channel: string }
  | { kind: "unsub"; channel: string }
  | { kind: "pub"; channel: string; data: unknown }
  /** A plain-text error frame, then close. */
  | { kind: "fatal"; message: string }
  /** The v1 text `Unknow action` (sic); the connection stays open. */
  | { kind: "unknown" };

export function parseFrame(text: string): FrameCommand {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: "fatal", message: "invalid JSON" };
  }
  if (!msg || typeof msg !== "object" || Array.isArray(msg))
    return { kind: "fatal", message: "invalid JSON" };
  const m = msg as Record<string, unknown>;
  const action = m.action;
  if (action !== "sub" && action !== "unsub" && action !== "pub") return { kind: "unknown" };
  const channel = typeof m.channel === "string" ? m.channel : "";
  if (channel === "") return { kind: "fatal", message: "empty channel" };
  if (action === "pub") {
    if (m.data === undefined || m.data === null) return { kind: "fatal", message: "missing data" };
    return { kind: "pub", channel, data: m.data };
  }
  return { kind: action, channel };
}
