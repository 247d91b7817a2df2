// `skyflow pushes`: the pushes the development server recorded instead of sending, newest first.
import { parseArgs } from "node:util";
import { appSchemaName, loadConfig } from "../config.js";
import { openDatabase } from "../db/open.js";
import { ConfigError } from "../errors.js";
import { createLogger } from "../log.js";
import { ensureOutboxColumns, listPushes, type RecordedPush } from "../server/push/outbox.js";
import type { Command, CommandIO } from "./types.js";

const USAGE = "usage: skyflow pushes [--limit 20] [--json] [--app-name NAME]";

export function formatPush(p: RecordedPush): string {
  const note = JSON.stringify(p.notification);
  return [
    `#${p.id}`,
    p.createdAt,
    `push:${p.kind}`,
    `to=${p.ids.join(",")}`,
    `topic=${p.topic ?? "-"}`,
    `devices=${p.devices.length}`,
    note.length > 120 ? `${note.slice(0, 117)}...` : note,
  ].join("  ");
}

async function run(io: CommandIO): Promise<number> {
  let values: { limit?: string; json?: boolean; "app-name"?: string };
  let limit: number;
  let appName: string;
  let config: ReturnType<typeof loadConfig>;
  try {
    values = parseArgs({
      args: io.argv,
      options: { limit: { type: "string" }, json: { type: "boolean" }, "app-name": { type: "string" } },
    }).values;
    limit = Number(values.limit ?? "20");
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new ConfigError("--limit", "expected 1 to 10000");
    config = loadConfig(io.env, { "app-name": values["app-name"] });
    appName = config.appName;
  } catch (err) {
    io.stderr.write(`skyflow pushes: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const log = createLogger({ level: "warn", destination: io.stderr });
  const db = await openDatabase(config, log, { max: 2 });
  try {
    const schema = appSchemaName(appName);
    const exists = await db.pool.query("SELECT to_regclass($1) AS t", [`"${schema}"._skyflow_push`]);
    const pushes = exists.rows[0]?.t ? await readPushes(db.pool, schema, limit) : [];
    if (values.json) io.stdout.write(`${JSON.stringify(pushes, null, 2)}\n`);
    else if (pushes.length === 0) io.stdout.write(`no pushes recorded for app ${appName}\n`);
    else io.stdout.write(`${pushes.map(formatPush).join("\n")}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

async function readPushes(pool: import("pg").Pool, schema: string, limit: number): Promise<RecordedPush[]> {
  await ensureOutboxColumns(pool, schema);
  return listPushes(pool, schema, limit);
}

export const command: Command = {
  name: "pushes",
  summary: "list the pushes the development server recorded",
  usage: USAGE,
  run,
};
