// The push outbox `_skyflow_push`: every push:user / push:device is recorded here instead of being sent
// (this server has no APNs/FCM credentials and no network), and listed by `skyflow pushes` and HTTP.
import type pg from "pg";
import { ident } from "../../db/pool.js";

export interface RecordedPush {
  id: string;
  kind: "user" | "device";
  ids: string[];
  notification: unknown;
  topic: string | null;
  result: unknown;
  /** The devices the push would have reached (id, type, user_id, topic; never the token). */
  devices: unknown[];
  createdAt: string;
}

/** The shared layout lacks the reached devices; this module adds its own column. */
export async function ensureOutboxColumns(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`ALTER TABLE ${ident(schema)}._skyflow_push ADD COLUMN IF NOT EXISTS devices jsonb`);
}

export async function recordPush(
  pool: pg.Pool,
  schema: string,
  push: Omit<RecordedPush, "id" | "createdAt">,
): Promise<string> {
  const r = await pool.query<{ id: string }>(
    `INSERT INTO ${ident(schema)}._skyflow_push (kind, ids, notification, topic, result, devices)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      push.kind,
      JSON.stringify(push.ids),
      JSON.stringify(push.notification),
      push.topic,
      JSON.stringify(push.result),
      JSON.stringify(push.devices),
    ],
  );
  return String(r.rows[0]!.id);
}

/** Newest first. */
export async function listPushes(pool: pg.Pool, schema: string, limit = 50): Promise<RecordedPush[]> {
  const r = await pool.query(
    `SELECT id, kind, ids, notification, topic, result, devices, created_at
       FROM ${ident(schema)}._skyflow_push ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return r.rows.map((row) => ({
    id: String(row.id),
    kind: row.kind,
    ids: row.ids,
    notification: row.notification,
    topic: row.topic,
    result: row.result,
    devices: row.devices ?? [],
    createdAt: (row.created_at as Date).toISOString(),
  }));
}
