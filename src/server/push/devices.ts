// device:register and device:unregister (protocol §9.1, S: handler/device.go): one row per device in
// `_device`; registering a token moves it to this device and user.
import { randomUUID } from "node:crypto";
import { ident, withTransaction } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import type { ActionRequest, ActionResult, ActionSpec } from "../types.js";

const DEVICE_TYPES = new Set(["ios", "android", "baidu-android"]);

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

async function register(req: ActionRequest): Promise<ActionResult> {
  const { payload, app, auth } = req;
  const type = str(payload.type);
  if (!DEVICE_TYPES.has(type)) {
    throw new SkygearServerError("InvalidArgument", `unknown device type "${type}"`, {
      info: { arguments: ["type"] },
    });
  }
  const token = str(payload.device_token);
  const topic = str(payload.topic) || null;
  const given = str(payload.id);
  const t = `${ident(app.config.schema)}._device`;
  const id = await withTransaction(app.pool, async (client) => {
    if (given) {
      const found = await client.query(`SELECT 1 FROM ${t} WHERE id = $1 FOR UPDATE`, [given]);
      if (found.rowCount === 0) throw new SkygearServerError("ResourceNotFound", "device not found");
    }
    const deviceId = given || randomUUID();
    if (token) await client.query(`DELETE FROM ${t} WHERE token = $1 AND id <> $2`, [token, deviceId]);
    await client.query(
      `INSERT INTO ${t} (id, type, token, auth_id, topic, last_registered_at)
       VALUES ($1, $2, $3, $4, $5, now() AT TIME ZONE 'UTC')
       ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, token = EXCLUDED.token,
         auth_id = EXCLUDED.auth_id, topic = EXCLUDED.topic, last_registered_at = EXCLUDED.last_registered_at`,
      [deviceId, type, token || null, auth.userId, topic],
    );
    return deviceId;
  });
  return { result: { id } };
}

async function unregister(req: ActionRequest): Promise<ActionResult> {
  const id = str(req.payload.id);
  if (!id)
    throw new SkygearServerError("InvalidArgument", "Missing device id", { info: { arguments: ["id"] } });
  const r = await req.app.pool.query(
    `UPDATE ${ident(req.app.config.schema)}._device SET auth_id = NULL WHERE id = $1`,
    [id],
  );
  if (r.rowCount === 0) throw new SkygearServerError("ResourceNotFound", "device not found");
  return { result: { id } };
}

export const deviceActions: ActionSpec[] = [
  { name: "device:register", auth: "require_auth", handle: register },
  { name: "device:unregister", auth: "require_auth", handle: unregister },
];
