// How much one request may ask of the development server: bounds that keep a hostile or mistaken request
// from freezing it or reaching Postgres's own limits as a 500. Each is refused with a Skygear error and a
// 4xx status before any database work. Configured by SKYFLOW_MAX_* (src/config.ts). No I/O.

export interface ServerLimits {
  /** Largest request body in bytes (HTTP 413, BadRequest 107). */
  bodyBytes: number;
  /** Records in one record:save, ids in one record:fetch or record:delete (InvalidArgument 108). */
  records: number;
  /** Values in one `in` list of a query predicate (RecordQueryInvalid 120). */
  inList: number;
  /** How deep `and`/`or`/`not` may nest in a query predicate (RecordQueryInvalid 120). */
  predicateDepth: number;
  /** Comparisons in a query predicate, and entries of its sort, include or desired_keys (120 or 108). */
  queryTerms: number;
  /** How deep a record field's value (a json object or array) may nest (InvalidArgument 108). */
  valueDepth: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  bodyBytes: 16 * 1024 * 1024,
  records: 1000,
  inList: 10_000,
  predicateDepth: 32,
  queryTerms: 1000,
  valueDepth: 64,
};

/**
 * Levels of a request body above a record field's value or a predicate: `{records: [{field: value}]}` puts
 * a value three levels down, and `predicate` one. The whole body may nest this much deeper than the
 * deeper of the two limits, so that those limits, with their own errors, are what a deep request meets.
 */
const BODY_DEPTH_SLACK = 8;

/** How deep any request body or pubsub frame may nest at all (checked without recursion). */
export function bodyDepthLimit(limits: ServerLimits): number {
  return Math.max(limits.valueDepth, limits.predicateDepth) + BODY_DEPTH_SLACK;
}

/** The limits a server configuration sets, or the defaults. */
export function limitsOf(config: { limits?: ServerLimits }): ServerLimits {
  return config.limits ?? DEFAULT_LIMITS;
}

/** Postgres refuses a statement that binds more values than this (its wire protocol counts them in 16 bits). */
export const MAX_BOUND_VALUES = 65_535;
