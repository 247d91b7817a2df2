// The schema:* actions of v1 (S: handler/schema.go), as its development mode answers them (the API key is
// enough): fetch, create, rename and delete fields of record tables, the creation access of a record type
// (`schema:access`), its default access (`schema:default_access`) and the field access rules
// (`schema:field_access:get`). Texts and codes are v1's; a database failure is described, never quoted.
import type pg from "pg";
import { ident, withTransaction } from "../db/pool.js";
import { SkygearServerError } from "./errors.js";
import { parseAccess } from "./records/acl.js";
import { validFieldName, validRecordType } from "./records/ids.js";
import { ensureColumns, forgetSchema, loadTableColumns } from "./records/table.js";
import type { ColumnInfo, ColumnSpec } from "./records/types.js";
import type { ActionRequest, ActionSpec } from "./types.js";

function invalid(message: string, args: string[]): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: args } });
}

function badPayload(): SkygearServerError {
  return new SkygearServerError("BadRequest", "fails to decode the request payload");
}

/** v1 FieldType.ToSimpleName. */
export function simpleName(c: ColumnInfo): string {
  switch (c.type) {
    case "date":
      return "datetime";
    case "ref":
      return `ref(${c.refType})`;
    case "seq":
      return "sequence";
    case "geo":
      return "location";
    default:
      return c.type;
  }
}

/** v1 SimpleNameToFieldType, for the types this server can create; undefined for an unknown name. */
function specOf(name: string): ColumnSpec | "unsupported" | undefined {
  switch (name) {
    case "string":
    case "number":
    case "boolean":
    case "json":
      return { type: name };
    case "datetime":
      return { type: "date" };
    case "location":
      return { type: "geo" };
    case "sequence":
      return { type: "seq" };
    case "integer":
    case "asset":
    case "acl":
    case "geometry":
    case "unknown":
      return "unsupported";
  }
  const ref = /^ref\((.+)\)$/.exec(name);
  return ref ? { type: "ref", refType: ref[1]! } : undefined;
}

type SchemaMap = Record<string, { fields: { name: string; type: string }[] }>;

/** v1 GetRecordSchemas + encodeRecordSchemas: every table not starting with `_`, its fields sorted. */
async function recordSchemas(pool: pg.Pool, schema: string): Promise<SchemaMap> {
  const { rows } = await pool.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables
      WHERE table_schema = $1 AND table_name NOT LIKE '\\_%' ORDER BY table_name`,
    [schema],
  );
  const out: SchemaMap = {};
  for (const { t } of rows) {
    const cols = (await loadTableColumns(pool, schema, t)) ?? new Map<string, ColumnInfo>();
    const fields = [...cols]
      .filter(([name]) => !name.startsWith("_"))
      .map(([name, c]) => ({ name, type: simpleName(c) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out[t] = { fields };
  }
  return out;
}

function stringField(payload: Record<string, unknown>, key: string): string {
  const v = payload[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw badPayload();
  return v;
}

async function fetchSchema(req: ActionRequest) {
  return { result: { record_types: await recordSchemas(req.app.pool, req.app.config.schema) } };
}

async function createSchema(req: ActionRequest) {
  const raw = req.payload.record_types;
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw)))
    throw badPayload();
  const wanted = new Map<string, Map<string, ColumnSpec>>();
  for (const [type, def] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    const fields = (def as { fields?: unknown } | null)?.fields ?? [];
    if (!Array.isArray(fields)) throw badPayload();
    const cols = new Map<string, ColumnSpec>();
    for (const f of fields as { name?: unknown; type?: unknown }[]) {
      const typeName = typeof f?.type === "string" ? f.type : "";
      const spec = specOf(typeName);
      if (!spec) throw invalid("unexpected field type", [typeName]);
      if (spec === "unsupported") {
        throw new SkygearServerError(
          "NotSupported",
          `field type ${typeName} is not supported by this server`,
        );
      }
      cols.set(typeof f.name === "string" ? f.name : "", spec);
    }
    wanted.set(type, cols);
  }
  for (const [type, cols] of wanted) {
    if (type.startsWith("_")) throw invalid("attempts to create reserved table", [type]);
    for (const name of cols.keys()) {
      if (name.startsWith("_")) throw invalid("attempts to create reserved field", [name]);
    }
  }
  for (const [type, cols] of wanted) {
    if (!validRecordType(type)) throw invalid("invalid record type", [type]);
    for (const name of cols.keys()) if (!validFieldName(name)) throw invalid("invalid field name", [name]);
    try {
      await ensureColumns(req.app.pool, req.app.config.schema, type, cols);
    } catch (err) {
      if (err instanceof SkygearServerError && err.errorName === "IncompatibleSchema") {
        // v1 wraps the error's own text ("Name: message") in a new one.
        throw new SkygearServerError("IncompatibleSchema", `IncompatibleSchema: ${err.message}`);
      }
      throw err;
    }
  }
  return fetchSchema(req);
}

/** Runs one ALTER TABLE; the errors v1 passes on (ResourceNotFound "failed to alter table: ...") rebuilt
 * from the names we know, not copied from the database. */
async function alter(req: ActionRequest, table: string, sql: string, names: { col: string; to?: string }) {
  const { pool, config } = req.app;
  try {
    await withTransaction(pool, (c) => c.query(sql));
  } catch (err) {
    const code = (err as { code?: string }).code;
    let why: string | undefined;
    if (code === "42P01") why = `relation "${config.schema}.${table}" does not exist`;
    else if (code === "42703") {
      why = names.to
        ? `column "${names.col}" does not exist`
        : `column "${names.col}" of relation "${table}" does not exist`;
    } else if (code === "42701") why = `column "${names.to}" of relation "${table}" already exists`;
    if (!why) throw err;
    throw new SkygearServerError("ResourceNotFound", `failed to alter table: pq: ${why}`);
  } finally {
    forgetSchema(pool, config.schema);
  }
}

function checkNames(recordType: string, names: [string, string][]): void {
  const missing = [["record_type", recordType] as [string, string], ...names]
    .filter(([, v]) => v === "")
    .map(([k]) => k);
  if (missing.length > 0) throw invalid("missing required fields", missing);
  if (recordType.startsWith("_")) throw invalid("attempts to change reserved table", ["record_type"]);
  for (const [k, v] of names) if (v.startsWith("_")) throw invalid("attempts to change reserved key", [k]);
  // Beyond v1: names Postgres would truncate or that reach outside the app's tables.
  if (!validRecordType(recordType)) throw invalid("invalid record type", ["record_type"]);
  for (const [k, v] of names) if (!validFieldName(v)) throw invalid("invalid field name", [k]);
}

async function renameSchema(req: ActionRequest) {
  const p = req.payload;
  const [recordType, from, to] = [
    stringField(p, "record_type"),
    stringField(p, "item_name"),
    stringField(p, "new_name"),
  ];
  checkNames(recordType, [
    ["item_name", from],
    ["new_name", to],
  ]);
  const s = req.app.config.schema;
  await alter(
    req,
    recordType,
    `ALTER TABLE ${ident(s)}.${ident(recordType)} RENAME ${ident(from)} TO ${ident(to)}`,
    {
      col: from,
      to,
    },
  );
  return fetchSchema(req);
}

async function deleteSchema(req: ActionRequest) {
  const p = req.payload;
  const [recordType, col] = [stringField(p, "record_type"), stringField(p, "item_name")];
  checkNames(recordType, [["item_name", col]]);
  const s = req.app.config.schema;
  await alter(req, recordType, `ALTER TABLE ${ident(s)}.${ident(recordType)} DROP ${ident(col)}`, { col });
  return fetchSchema(req);
}

function stringList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw badPayload();
  return v as string[];
}

/** Creation access: the roles that may create records of a type (none = anyone). */
async function setAccess(req: ActionRequest) {
  const type = stringField(req.payload, "type");
  const roles = stringList(req.payload.create_roles);
  if (type === "") throw invalid("missing required fields", ["type"]);
  const s = ident(req.app.config.schema);
  await withTransaction(req.app.pool, async (c) => {
    await c.query(`DELETE FROM ${s}._record_creation WHERE record_type = $1`, [type]);
    for (const role of new Set(roles)) {
      await c.query(`INSERT INTO ${s}._role (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, [role]);
      await c.query(`INSERT INTO ${s}._record_creation (record_type, role_id) VALUES ($1, $2)`, [type, role]);
    }
  });
  // v1 leaves out create_roles when none was given (omitempty).
  return { result: { type, ...(Array.isArray(req.payload.create_roles) ? { create_roles: roles } : {}) } };
}

async function setDefaultAccess(req: ActionRequest) {
  const type = stringField(req.payload, "type");
  const raw = req.payload.default_access;
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) throw badPayload();
  let acl: ReturnType<typeof parseAccess>;
  try {
    acl = parseAccess(raw ?? []);
  } catch {
    throw invalid("invalid default_access entry", ["default_access"]);
  }
  if (type === "") throw invalid("missing required fields", ["type"]);
  const s = ident(req.app.config.schema);
  await req.app.pool.query(
    `INSERT INTO ${s}._record_default_access (record_type, default_access) VALUES ($1, $2::jsonb)
     ON CONFLICT (record_type) DO UPDATE SET default_access = EXCLUDED.default_access`,
    [type, JSON.stringify(acl ?? [])],
  );
  return { result: { type, ...(Array.isArray(raw) ? { default_access: raw } : {}) } };
}

/** The field access rules v1 seeds (and this server applies: see records/field-acl.ts). */
const SEEDED_FIELD_ACCESS = ["email", "username"].flatMap((field) =>
  (["_owner", "_any_user"] as const).map((role) => ({
    record_type: "user",
    record_field: field,
    user_role: role,
    writable: role === "_owner",
    readable: true,
    comparable: true,
    discoverable: true,
  })),
);

export const schemaActions: ActionSpec[] = [
  { name: "schema:fetch", auth: "accesskey", handle: fetchSchema },
  { name: "schema:create", auth: "accesskey", handle: createSchema },
  { name: "schema:rename", auth: "accesskey", handle: renameSchema },
  { name: "schema:delete", auth: "accesskey", handle: deleteSchema },
  { name: "schema:access", auth: "accesskey", handle: setAccess },
  { name: "schema:default_access", auth: "accesskey", handle: setDefaultAccess },
  {
    name: "schema:field_access:get",
    auth: "accesskey",
    handle: async () => ({ result: { access: SEEDED_FIELD_ACCESS } }),
  },
];
