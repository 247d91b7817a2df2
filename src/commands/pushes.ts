// `skyflow pushes`: the pushes the development server recorded instead of sending, newest first.
import { appSchemaName, loadConfig } from "../config.js";
import { createLogger } from "../log.js";
import { ensureOutboxColumns, listPushes, type RecordedPush } from "../server/push/outbox.js";
import { defineCommand, intFlag, type ParsedArgs } from "./args.js";
import { openForInspection } from "./inspect-db.js";
import type { CommandIO } from "./types.js";

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

const ARGS = {
  options: { limit: { type: "string" }, json: { type: "boolean" }, "app-name": { type: "string" } },
} as const;

async function run(io: CommandIO, { values }: ParsedArgs<typeof ARGS.options>): Promise<number> {
  const limit = intFlag("limit", values.limit, 20, 1, 10_000);
  const config = loadConfig(io.env, { "app-name": values["app-name"] });
  const appName = config.appName;
  const log = createLogger({ level: "warn", destination: io.stderr });
  const db = await openForInspection(config, log);
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

export const command = defineCommand({
  name: "pushes",
  summary: "list the pushes the development server recorded",
  usage: "skyflow pushes [--limit 20] [--json] [--app-name NAME]",
  args: ARGS,
  run,
});
