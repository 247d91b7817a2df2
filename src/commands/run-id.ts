// A run id as people type it: the whole UUID, or any prefix of it that only one run has (the log prints
// the first 8 characters). For every command that takes a run id (runs show, runs retry, runs cancel).
import type { Queryable } from "../engine/store/enqueue.js";

/** Why a given id names no single run; the message says what to type instead. */
export interface RunIdProblem {
  message: string;
}

/**
 * The full id of the one run whose id starts with `given` (dashes optional, any case). The prefix becomes a
 * range of UUIDs, so the lookup is a scan of the primary key's index, not of the table.
 */
export async function resolveRunId(db: Queryable, given: string): Promise<string | RunIdProblem> {
  const hex = given.toLowerCase().replace(/-/g, "");
  if (!/^[0-9a-f]{1,32}$/.test(hex)) {
    return {
      message: `"${given}" is not a run id (hexadecimal digits and dashes, as \`skyflow runs list\` shows)`,
    };
  }
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM skyflow.runs WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT 3",
    [asUuid(hex.padEnd(32, "0")), asUuid(hex.padEnd(32, "f"))],
  );
  if (rows.length === 1) return rows[0]!.id;
  if (rows.length === 0) {
    return { message: `no run ${given}; \`skyflow runs list\` shows the recent ones` };
  }
  const some = rows.slice(0, 2).map((r) => r.id);
  const more = rows.length > 2 ? " and more" : "";
  return { message: `${given} is the start of several run ids (${some.join(", ")}${more}); give more of it` };
}

function asUuid(h: string): string {
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
