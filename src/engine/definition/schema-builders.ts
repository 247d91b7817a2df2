// The few typebox builders that schema.ts uses, giving the same objects as typebox's (the same enumerable keys
// in the same order, and typebox's hidden `~kind` and `~optional` markers), typed as typebox's own. The
// typebox package itself is then not loaded at run time: its builders come with 373 modules and about 8 MB of
// resident memory in a daemon, for a schema built once. schema-builders.test.ts compares every object of
// schema.ts with the one typebox builds.
import type TypeBox from "typebox";

type Options = Record<string, unknown>;

/** `enumerable`, then `options`, then the hidden `~kind` (typebox's Memory.Create). */
function create(kind: string, enumerable: Options, options: Options = {}): never {
  const out: Options = { ...enumerable, ...options };
  Object.defineProperty(out, "~kind", { configurable: true, writable: true, enumerable: false, value: kind });
  return out as never;
}

function Optional(type: object): never {
  // typebox's Memory.Update: a shallow copy keeping every property's descriptor, and `~optional` hidden.
  const out: Options = {};
  for (const key of Reflect.ownKeys(type))
    if (key !== "~optional")
      Object.defineProperty(out, key, Object.getOwnPropertyDescriptor(type, key) as PropertyDescriptor);
  Object.defineProperty(out, "~optional", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: true,
  });
  return out as never;
}

function Obj(properties: Record<string, object>, options?: Options): never {
  const required = Object.keys(properties).filter((k) => !("~optional" in properties[k]!));
  return create(
    "Object",
    { type: "object", ...(required.length > 0 ? { required } : {}), properties },
    options,
  );
}

function Record(key: { pattern?: unknown }, value: object, options: Options = {}): never {
  const pattern = typeof key.pattern === "string" ? key.pattern : "^.*$";
  const out = create("Record", { type: "object", patternProperties: { [pattern]: value } });
  return Object.assign(out as Options, options) as never;
}

type Builders = Pick<
  typeof TypeBox,
  | "Array"
  | "Boolean"
  | "Enum"
  | "Integer"
  | "Null"
  | "Number"
  | "Object"
  | "Optional"
  | "Record"
  | "String"
  | "Union"
  | "Unknown"
>;

export const Type = {
  Array: (items: object, options?: Options) => create("Array", { type: "array", items }, options),
  Boolean: (options?: Options) => create("Boolean", { type: "boolean" }, options),
  Enum: (values: unknown[], options?: Options) => create("Enum", { enum: values }, options),
  Integer: (options?: Options) => create("Integer", { type: "integer" }, options),
  Null: (options?: Options) => create("Null", { type: "null" }, options),
  Number: (options?: Options) => create("Number", { type: "number" }, options),
  Object: Obj,
  Optional,
  Record,
  String: (options?: Options) => create("String", { type: "string" }, options),
  Union: (anyOf: object[], options?: Options) => create("Union", { anyOf }, options),
  Unknown: (options?: Options) => create("Unknown", {}, options),
} as unknown as Builders;
