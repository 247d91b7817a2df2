// The one schema of a workflow file (typebox): runtime validation, the TypeScript types of the raw file and
// the published JSON Schema (`skyflow schema`, schema/workflow.schema.json) all come from here. No I/O.
import type { Static, TNull, TObject, TOptional, TSchema, TUnion } from "typebox";
import { Type } from "./schema-builders.js";

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

/**
 * Which value a kind's schema describes: the block as written in the file (`file`: any value may instead be
 * an expression), or the block once its expressions are resolved (`run`: what the step kind is given, its
 * TypeScript input type, checked by src/engine/step-kinds.ts). Both come from kindSchemas below, so a kind's
 * input is declared once. In the `run` form an optional key may be null (read as absent), and a few values
 * an expression can give in other spellings (durations, timestamps) are wider.
 */
export type Form = "file" | "run";
type ByForm<F extends Form, A, B> = F extends "file" ? A : B;
type WithNullable<P extends Props, R extends keyof P> = {
  [K in keyof P]: K extends R ? P[K] : TOptional<TUnion<[P[K], TNull]>>;
};

/** A closed mapping whose optional keys may also be null: the `run` form of Obj. */
function NullableObj<P extends Props, R extends keyof P & string = never>(
  props: P,
  required: readonly R[] = [],
): TObject<WithNullable<P, R>> {
  const out: Record<string, TSchema> = {};
  for (const [k, v] of Object.entries(props))
    out[k] = (required as readonly string[]).includes(k) ? v : Type.Union([v, Type.Null()]);
  return Obj(out, required as readonly string[]) as unknown as TObject<WithNullable<P, R>>;
}

/** The step kinds' schemas in one form; KINDS (file) and RUN_KINDS (run) below. */
function kindSchemas<F extends Form>(form: F) {
  const file = form === "file";
  /** This schema in the file form, that one in the run form. */
  const pick = <A extends TSchema, B extends TSchema>(a: A, b: B) => (file ? a : b) as ByForm<F, A, B>;
  /** A value of type `t`, or in the file an expression that yields one when the step runs. */
  const T = <S extends TSchema>(t: S) => pick(Type.Union([t, ExprString]), t);
  /** One of `members`, or in the file an expression that yields one. */
  const OneOf = <S extends TSchema[]>(members: [...S], options: Record<string, unknown>) =>
    pick(Type.Union([...members, ExprString], options), Type.Union(members, options));
  const O = <P extends Props, R extends keyof P & string = never>(props: P, required: readonly R[] = []) =>
    pick(Obj(props, required), NullableObj(props, required));
  /** A name the call cannot do without: an empty one fails the step when it runs. */
  const Name = (options: Record<string, unknown> = {}) =>
    pick(Type.String(options), Type.String({ ...options, minLength: 1 }));
  /** An expression may give a duration as "1.5s" or a fractional number of ms (park.ts parses it). */
  const RunDuration = pick(Duration, Type.Union([Type.String(), Type.Number({ minimum: 0 })]));

  const StringList = T(Type.Array(Type.String()));
  /** An expression may give a fractional count; the query step rounds it down. */
  const Count = pick(T(Type.Integer({ minimum: 0 })), Type.Number({ minimum: 0 }));
  return {
    query: O(
      {
        type: Name({ description: "Record type" }),
        database: Database,
        where: OneOf([AnyMap, Type.Array(Type.Unknown())], {
          description: "Short map form { field: value | { op: value } } or a raw Skygear predicate",
        }),
        sort: Type.Union([Type.Array(Type.String()), Type.String()], { description: "'-' means descending" }),
        limit: Count,
        offset: Count,
        count: T(Type.Boolean()),
        as: As,
      },
      ["type"],
    ),
    save: O(
      {
        record: T(AnyMap),
        records: T(Type.Array(AnyMap)),
        atomic: Type.Boolean(),
        as: As,
        database: Database,
      },
      [],
    ),
    delete: O({ ids: StringList, as: As, database: Database }, ["ids"]),
    sql: O(
      {
        statement: pick(
          Type.String({ description: "SQL with $1, $2 ... placeholders; no expressions" }),
          Type.String({ pattern: "\\S", "x-expected": "SQL text" }),
        ),
        params: T(Type.Array(Type.Unknown())),
      },
      ["statement"],
    ),
    publish: O({ channel: Name(), data: Type.Unknown() }, ["channel"]),
    push: O({ users: StringList, devices: StringList, topic: Type.String(), notification: T(AnyMap) }, [
      "notification",
    ]),
    action: O(
      {
        name: Name({ description: "A Skygear action, e.g. record:fetch" }),
        params: T(AnyMap),
        as: As,
      },
      ["name"],
    ),
    // Control flow that parks the run (src/engine/park): see the "Control flow" section of the DSL contract.
    sleep: pick(
      Type.Union([Duration, ExprString, Obj({ until: Type.String({ minLength: 1 }) }, ["until"])], {
        description:
          "A duration (at most 365d), or { until: timestamp }; the run is parked in Postgres meanwhile",
        "x-expected": "a duration (250ms, 10s, 5m, 1h, 2d) or { until: ${{ timestamp }} }",
      }),
      // A timestamp from an expression may be a number of ms; the mapping may be an expression's, keys and all.
      Type.Union([RunDuration, Type.Object({ until: Type.Union([Type.String(), Type.Number()]) })], {
        "x-expected": "a duration (250ms, 10s, 5m, 1h, 2d) or { until: timestamp }",
      }),
    ),
    wait_for: pick(
      Obj(
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
      // `match` is compiled apart (it reads `incoming`, known only as an event arrives): not in the input.
      NullableObj(
        {
          record: NullableObj(
            {
              type: Type.String({ minLength: 1 }),
              database: Type.Enum(["_public", "_private", "_any"]),
              events: Type.Array(Type.Enum(["create", "update", "delete"]), { minItems: 1 }),
            },
            ["type"],
          ),
          pubsub: Obj({ channel: Type.String({ minLength: 1 }) }, ["channel"]),
          timeout: RunDuration,
        },
        ["timeout"],
      ),
    ),
    call: O(
      {
        workflow: Name({ description: "A workflow of the same directory whose `on` includes call" }),
        input: Type.Unknown(),
        wait: Type.Boolean({ description: "Default true: the step ends when the child run ends" }),
      },
      ["workflow"],
    ),
  };
}

/** The kinds that run one try (the leaf kinds), as written in the file. */
const LEAF_KINDS = kindSchemas("file");
/** The leaf kinds' resolved inputs: what each step kind's `run` is given, checked once before it runs. */
export const RUN_KINDS = kindSchemas("run");
export type LeafKindName = keyof typeof RUN_KINDS;
/** The resolved input of a leaf kind: the type its `run` is written against. */
export type StepInput<K extends LeafKindName> = Static<(typeof RUN_KINDS)[K]>;

export const KINDS = {
  ...LEAF_KINDS,
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
