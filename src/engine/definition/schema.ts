// The one schema of a workflow file (typebox): runtime validation, the TypeScript types of the raw file and
// the published JSON Schema (`skyflow schema`, schema/workflow.schema.json) all come from here. No I/O.
import Type, { type Static, type TObject, type TOptional, type TSchema } from "typebox";

type Props = Record<string, TSchema>;
type WithOptional<P extends Props, R extends keyof P> = {
  [K in keyof P]: K extends R ? P[K] : TOptional<P[K]>;
};

/** A closed mapping whose keys are optional unless listed in `required`. */
function Obj<P extends Props, R extends keyof P & string = never>(
  props: P,
  required: readonly R[] = [],
  options: Record<string, unknown> = {},
): TObject<WithOptional<P, R>> {
  const out: Record<string, TSchema> = {};
  for (const [k, v] of Object.entries(props))
    out[k] = (required as readonly string[]).includes(k) ? v : Type.Optional(v);
  return Type.Object(out, { additionalProperties: false, ...options }) as unknown as TObject<
    WithOptional<P, R>
  >;
}

const EXPR_PATTERN = "^\\s*\\$\\{\\{[\\s\\S]*\\}\\}\\s*$";

/** A string that is exactly one `${{ }}` expression. */
export const ExprString = Type.String({
  pattern: EXPR_PATTERN,
  description: "A CEL expression in ${{ }}, e.g. ${{ event.record.status == 'open' }}",
});

/** A value of type `t`, or an expression that yields one when the step runs. */
function Templated<T extends TSchema>(t: T) {
  return Type.Union([t, ExprString]);
}

/** An `if`/`when` condition: an expression, with or without `${{ }}`, or a constant. */
const Condition = Type.Union([Type.String({ minLength: 1 }), Type.Boolean()], {
  description: "A CEL condition, e.g. ${{ event.record.status == 'open' }}",
});

export const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const Duration = Type.Union(
  [Type.String({ pattern: "^\\d+(ms|s|m|h|d)$" }), Type.Integer({ minimum: 0 })],
  {
    description: "250ms, 10s, 5m, 1h, 2d, or a number of milliseconds",
    "x-expected": "a duration (250ms, 10s, 5m, 1h, 2d, or a number of milliseconds)",
  },
);

const StringList = Templated(Type.Array(Type.String()));
const As = Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
  description:
    "Who the call is made as: absent or null, the API key with no user; master, the master key; else a user id (usually an expression; a user/ prefix is dropped), the master key with _user_id",
  "x-expected": "a user id, master, or null",
});
const Database = Type.String({ description: "_public (default), _private, or a database name" });
const AnyMap = Type.Record(Type.String(), Type.Unknown());

export const Retry = Obj(
  {
    attempts: Type.Integer({ minimum: 1, description: "Every try including the first" }),
    backoff: Type.Enum(["fixed", "linear", "exponential"]),
    delay: Duration,
    max_delay: Duration,
    jitter: Type.Boolean(),
    on: Type.Array(Type.String(), { description: "Error names that may be retried" }),
  },
  [],
);

export const KINDS = {
  query: Obj(
    {
      type: Type.String({ description: "Record type" }),
      database: Database,
      where: Type.Union([AnyMap, Type.Array(Type.Unknown()), ExprString], {
        description: "Short map form { field: value | { op: value } } or a raw Skygear predicate",
      }),
      sort: Type.Union([Type.Array(Type.String()), Type.String()], { description: "'-' means descending" }),
      limit: Templated(Type.Integer({ minimum: 0 })),
      offset: Templated(Type.Integer({ minimum: 0 })),
      count: Templated(Type.Boolean()),
      as: As,
    },
    ["type"],
  ),
  save: Obj(
    {
      record: Templated(AnyMap),
      records: Templated(Type.Array(AnyMap)),
      atomic: Type.Boolean(),
      as: As,
      database: Database,
    },
    [],
  ),
  delete: Obj({ ids: StringList, as: As, database: Database }, ["ids"]),
  sql: Obj(
    {
      statement: Type.String({ description: "SQL with $1, $2 ... placeholders; no expressions" }),
      params: Templated(Type.Array(Type.Unknown())),
    },
    ["statement"],
  ),
  publish: Obj({ channel: Type.String(), data: Type.Unknown() }, ["channel"]),
  push: Obj(
    { users: StringList, devices: StringList, topic: Type.String(), notification: Templated(AnyMap) },
    ["notification"],
  ),
  action: Obj(
    {
      name: Type.String({ description: "A Skygear action, e.g. record:fetch" }),
      params: Templated(AnyMap),
      as: As,
    },
    ["name"],
  ),
  // Control flow that parks the run (src/engine/park): see the "Control flow" section of the DSL contract.
  sleep: Type.Union([Duration, ExprString, Obj({ until: Type.String({ minLength: 1 }) }, ["until"])], {
    description:
      "A duration (at most 365d), or { until: timestamp }; the run is parked in Postgres meanwhile",
    "x-expected": "a duration (250ms, 10s, 5m, 1h, 2d) or { until: ${{ timestamp }} }",
  }),
  wait_for: Obj(
    {
      record: Obj(
        {
          type: Type.String(),
          database: Type.Enum(["_public", "_private", "_any"]),
          events: Type.Array(Type.Enum(["create", "update", "delete"]), { minItems: 1 }),
        },
        ["type"],
      ),
      pubsub: Obj({ channel: Type.String() }, ["channel"]),
      match: ExprString,
      timeout: Duration,
    },
    ["match", "timeout"],
  ),
  call: Obj(
    {
      workflow: Type.String({ description: "A workflow of the same directory whose `on` includes call" }),
      input: Type.Unknown(),
      wait: Type.Boolean({ description: "Default true: the step ends when the child run ends" }),
    },
    ["workflow"],
  ),
  // The inner steps of `foreach` (the sibling key `steps`) and of each `parallel` branch are checked against
  // Step one by one (checks.ts), so this schema stays flat and the published document has no cycles.
  foreach: Type.Union([ExprString, Type.Array(Type.Unknown())], {
    description: "The list to run `steps` for, one item at a time (or `concurrency` at once)",
    "x-expected": "an expression ${{ }} giving a list, or a list",
  }),
  parallel: Type.Record(
    Type.String({ pattern: "^[a-z][a-z0-9_]*$" }),
    Type.Array(Type.Unknown(), { minItems: 1 }),
    {
      description: "Branches by name, each a list of steps; they run at once",
      "x-expected": "a mapping of branch names to lists of steps",
    },
  ),
};
/** Kinds that hold other steps. */
export const CONTAINER_KINDS: readonly string[] = ["foreach", "parallel"];
export type StepKindName = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as StepKindName[];

export const Step = Obj(
  {
    id: Type.String({
      pattern: "^[a-z][a-z0-9_]*$",
      description: "Needed to read the step's output",
      "x-expected": "an id of lowercase letters, digits and _, starting with a letter",
    }),
    name: Type.String(),
    if: Condition,
    retry: Retry,
    timeout: Duration,
    continue_on_error: Type.Boolean(),
    ...KINDS,
    item: Type.String({
      pattern: "^[a-z_][a-z0-9_]*$",
      description: "foreach: the name an item is seen as (default item)",
      "x-expected": "a name of lowercase letters, digits and _",
    }),
    concurrency: Type.Integer({ minimum: 1, description: "foreach: items in flight at once (default 1)" }),
    steps: Type.Array(Type.Unknown(), { minItems: 1, description: "foreach: the steps run for each item" }),
  },
  [],
);

const RecordTrigger = Obj(
  {
    record: Obj(
      {
        type: Type.String(),
        database: Type.Enum(["_public", "_private", "_any"]),
        events: Type.Array(Type.Enum(["create", "update", "delete"]), { minItems: 1 }),
        when: Condition,
      },
      ["type"],
    ),
  },
  ["record"],
);
const PubsubTrigger = Obj(
  {
    pubsub: Obj({ channel: Type.String(), when: Condition }, ["channel"]),
  },
  ["pubsub"],
);
const CronTrigger = Obj(
  {
    cron: Obj(
      {
        schedule: Type.String({ description: '5 fields ("*/5 * * * *"), 6 with seconds first, or @hourly' }),
        timezone: Type.String({ description: "IANA name, default UTC" }),
        catch_up: Type.Enum(["none", "last", "all"]),
        overlap: Type.Enum(["skip", "queue", "allow"]),
      },
      ["schedule"],
    ),
  },
  ["cron"],
);
const CallTrigger = Obj({ call: Obj({}, []) }, ["call"]);
export const Trigger = Type.Union([RecordTrigger, PubsubTrigger, CronTrigger, CallTrigger]);

export const WorkflowFile = Obj(
  {
    name: Type.String({
      pattern: "^[a-z0-9][a-z0-9_-]*$",
      description: "Default: the file name",
      "x-expected": "a name of lowercase letters, digits, _ and -",
    }),
    description: Type.String(),
    enabled: Type.Boolean(),
    on: Type.Union([Trigger, Type.Array(Trigger, { minItems: 1 })]),
    concurrency: Type.Union([
      Type.Integer({ minimum: 1 }),
      Obj({ limit: Type.Integer({ minimum: 1 }), key: ExprString }, ["limit"]),
    ]),
    defaults: Obj({ retry: Retry, timeout: Duration, as: As }, []),
    steps: Type.Array(Step, { minItems: 1 }),
    on_failure: Type.Array(Step),
    output: Type.Unknown({
      description: "What the run returns: an expression (default: the last step's output)",
    }),
  },
  ["on", "steps"],
  {
    title: "skyflow workflow",
    // Free keys for YAML anchors, as in docker-compose: `x-common: &common {...}`.
    patternProperties: { "^x-": {} },
    description: "One skyflow workflow: a trigger and the steps it runs",
  },
);

export type WorkflowFileShape = Static<typeof WorkflowFile>;
export type StepShape = Static<typeof Step>;
export type TriggerShape = Static<typeof Trigger>;
export type RetryShape = Static<typeof Retry>;

/** The published JSON Schema document. */
export function jsonSchema(): Record<string, unknown> {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    ...JSON.parse(JSON.stringify(WorkflowFile)),
  };
}
