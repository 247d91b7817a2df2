// push:user and push:device (protocol §9.2, S: handler/push.go): answered as v1 answers, with the devices
// each push would reach, and recorded in the outbox instead of being sent. Only an API key is needed.
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import type { ActionRequest, ActionResult, ActionSpec, AppContext } from "../types.js";
import { recordPush } from "./outbox.js";

interface Args {
  ids: string[];
  notification: Record<string, unknown>;
  topic: string | null;
}

function parseArgs(payload: Record<string, unknown>, idsKey: "user_ids" | "device_ids"): Args {
  const raw = payload[idsKey];
  const ids = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === "string" && x !== "") : [];
  if (ids.length === 0 || (Array.isArray(raw) && ids.length !== raw.length)) {
    throw new SkygearServerError("InvalidArgument", `${idsKey} must be a non-empty list of ids`, {
      info: { arguments: [idsKey] },
    });
  }
  const n = payload.notification;
  if (!n || typeof n !== "object" || Array.isArray(n)) {
    throw new SkygearServerError("InvalidArgument", "missing notification", {
      info: { arguments: ["notification"] },
    });
  }
  const topic = typeof payload.topic === "string" && payload.topic !== "" ? payload.topic : null;
  return { ids, notification: n as Record<string, unknown>, topic };
}

interface DeviceRow {
  id: string;
  type: string;
  token: string | null;
  auth_id: string | null;
  topic: string | null;
}

async function devicesWhere(app: AppContext, column: "id" | "auth_id", ids: string[]): Promise<DeviceRow[]> {
  const r = await app.pool.query<DeviceRow>(
    `SELECT id, type, token, auth_id, topic FROM ${ident(app.config.schema)}._device
      WHERE ${column} = ANY($1::text[]) ORDER BY id`,
    [ids],
  );
  return r.rows;
}

function topicMatches(d: DeviceRow, topic: string | null): boolean {
  return topic === null || d.topic === topic;
}

async function pushUser(req: ActionRequest): Promise<ActionResult> {
  const args = parseArgs(req.payload, "user_ids");
  // The JS SDK sends `user.id` ("user/<id>") when given a user record; v1 would find no devices for it.
  const userIds = args.ids.map((id) => (id.startsWith("user/") ? id.slice(5) : id));
  const devices = await devicesWhere(req.app, "auth_id", userIds);
  // v1 answers success per user, devices or not; devices are de-duplicated by token.
  const seen = new Set<string>();
  const reached = devices.filter((d) => {
    if (!topicMatches(d, args.topic)) return false;
    const key = d.token ?? `id:${d.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const result = args.ids.map((id) => ({ _id: id }));
  await recordPush(req.app.pool, req.app.config.schema, {
    kind: "user",
    ids: args.ids,
    notification: args.notification,
    topic: args.topic,
    result,
    devices: reached.map(deviceSummary),
  });
  return { result };
}

async function pushDevice(req: ActionRequest): Promise<ActionResult> {
  const args = parseArgs(req.payload, "device_ids");
  const found = new Map((await devicesWhere(req.app, "id", args.ids)).map((d) => [d.id, d]));
  const result: Record<string, unknown>[] = [];
  const reached: DeviceRow[] = [];
  for (const id of args.ids) {
    const d = found.get(id);
    if (!d) {
      result.push(
        new SkygearServerError("ResourceNotFound", `cannot find device "${id}"`, { info: { id } }).toItem(id),
      );
    } else if (topicMatches(d, args.topic)) {
      result.push({ _id: id });
      reached.push(d);
    }
  }
  await recordPush(req.app.pool, req.app.config.schema, {
    kind: "device",
    ids: args.ids,
    notification: args.notification,
    topic: args.topic,
    result,
    devices: reached.map(deviceSummary),
  });
  return { result };
}

/** What the outbox keeps of a device: never the push token itself. */
function deviceSummary(d: DeviceRow): Record<string, unknown> {
  return { id: d.id, type: d.type, user_id: d.auth_id, topic: d.topic };
}

export const pushActions: ActionSpec[] = [
  { name: "push:user", auth: "accesskey", handle: pushUser },
  { name: "push:device", auth: "accesskey", handle: pushDevice },
];
