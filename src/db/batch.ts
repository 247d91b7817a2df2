// Statements sent as one extended-protocol batch behind a single Sync: Parse, Bind, Describe and Execute
// for each, then one Sync. Postgres flushes its answers at a Sync (or a simple query's end), so statements
// sent with a Sync each, as pg's pipeline mode does, cost the server a flush per statement and the client a
// read and a wake-up per flush; behind one Sync, one of each per round trip. A record's way through the
// engine takes four round trips of two or three statements each (the claim, the runs' insert, the step's
// statement, its record).
//
// The difference in meaning: after an error the server skips every message up to the Sync, so the statements
// after a failed one are not run at all (where a COMMIT was among them, pipelined() sends a ROLLBACK behind
// the batch: a COMMIT after a failed statement rolled back), and outside a transaction block the statements
// before one Sync are one implicit transaction (pipelined() sends such a batch statement by statement).
import pg from "pg";

/** A statement of the batch: one command, its values bound (already mapped to wire text or a Buffer). */
export interface BatchCommand {
  text: string;
  values: unknown[];
  /** Prepared under this name on the connection (parsed once per connection). */
  name?: string;
  /** Sends a Describe so its rows can be read (a transaction command or a SET answers with none). */
  describe: boolean;
}

/** What pg's Connection offers for the extended protocol (pg/lib/connection.js). */
interface Connection {
  parsedStatements: Record<string, string>;
  stream: { cork?: () => void; uncork?: () => void };
  parse(q: { text: string; name?: string }): void;
  bind(c: { portal: string; statement: string; values: unknown[]; binary: boolean }): void;
  describe(c: { type: "P"; name: string }): void;
  execute(c: { portal: string }): void;
  close(c: { type: "S"; name: string }): void;
  sync(): void;
  sendCopyFail(msg: string): void;
}

/** pg's row and command messages, as its parser gives them. */
interface FieldsMessage {
  fields: unknown[];
}

type Done = (err: Error | undefined, results: pg.QueryResult[]) => void;

/**
 * Names whose Parse was sent in a batch that failed at that statement: the server may or may not hold them
 * (the error may have come from its Bind or Execute). The next Parse of such a name on that connection is
 * preceded by a Close, which is no error for a name that does not exist.
 */
const unsure = new WeakMap<object, Set<string>>();

const { Result } = pg as unknown as { Result: new (rowMode: unknown, types: unknown) => PgResult };

interface PgResult extends pg.QueryResult {
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): unknown;
  addRow(row: unknown): void;
  addCommandComplete(msg: unknown): void;
}

/**
 * pg's submittable for `commands` (see the file's head): `client.query(batch)` queues it as one query.
 * `done` receives each command's result, in order, or the first error.
 */
export class Batch {
  /** One per command: filled as the answers come (a dry client fills them itself: engine/rehearse.ts). */
  readonly results: PgResult[];
  /** Answered commands (the index of the one an error belongs to). */
  private at = 0;
  /** The index of the command that failed (the server ran none after it), once one has. */
  failedAt: number | undefined;
  /** The names this batch sent a Parse for, by command index. */
  private parsed: (string | undefined)[] = [];
  private connection: Connection | undefined;
  private rowError: Error | undefined;
  /** pg's query_timeout for the whole batch (its client's timer calls handleError). */
  query_timeout?: number;
  callback: Done | undefined;

  constructor(
    readonly commands: BatchCommand[],
    types: unknown,
    done: Done,
    timeoutMs?: number,
  ) {
    this.results = commands.map(() => new Result(undefined, types));
    this.callback = done;
    if (timeoutMs) this.query_timeout = timeoutMs;
  }

  submit(connection: Connection): Error | null {
    const parsed = connection.parsedStatements;
    for (const c of this.commands)
      if (c.name && parsed[c.name] !== undefined && parsed[c.name] !== c.text)
        return new Error(
          `Prepared statements must be unique - '${c.name}' was used for a different statement`,
        );
    this.connection = connection;
    const doubtful = unsure.get(connection);
    // Names parsed earlier in this batch (a group's members share their statement).
    let here: Set<string> | undefined;
    connection.stream.cork?.();
    try {
      for (let i = 0; i < this.commands.length; i++) {
        const c = this.commands[i]!;
        if (!c.name || (parsed[c.name] === undefined && !here?.has(c.name))) {
          if (c.name) {
            here ??= new Set();
            here.add(c.name);
          }
          if (c.name && doubtful?.delete(c.name)) connection.close({ type: "S", name: c.name });
          connection.parse({ text: c.text, ...(c.name ? { name: c.name } : {}) });
          this.parsed[i] = c.name;
        }
        connection.bind({ portal: "", statement: c.name ?? "", values: c.values, binary: false });
        if (c.describe) connection.describe({ type: "P", name: "" });
        connection.execute({ portal: "" });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: FieldsMessage): void {
    this.results[this.at]?.addFields(msg.fields);
  }

  handleDataRow(msg: FieldsMessage): void {
    const r = this.results[this.at];
    if (!r || this.rowError) return;
    try {
      r.addRow(r.parseRow(msg.fields));
    } catch (err) {
      this.rowError = err as Error;
    }
  }

  handleCommandComplete(msg: unknown): void {
    this.results[this.at]?.addCommandComplete(msg);
    this.at++;
  }

  handleEmptyQuery(): void {
    this.at++;
  }

  handleError(err: Error): void {
    this.failedAt ??= this.at;
    this.remember(this.at);
    const done = this.callback;
    this.callback = undefined;
    done?.(err, []);
  }

  handleReadyForQuery(): void {
    if (this.rowError) {
      this.handleError(this.rowError);
      return;
    }
    this.remember(this.commands.length);
    const done = this.callback;
    this.callback = undefined;
    done?.(undefined, this.results);
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail("No source stream defined");
  }

  handleCopyData(): void {}

  /** The names parsed by the commands before `upTo` are prepared; the one at `upTo` may be. */
  private remember(upTo: number): void {
    const connection = this.connection;
    if (!connection) return;
    this.connection = undefined;
    for (let i = 0; i < this.parsed.length; i++) {
      const name = this.parsed[i];
      if (!name) continue;
      if (i < upTo) connection.parsedStatements[name] = this.commands[i]!.text;
      else if (i === upTo) {
        const set = unsure.get(connection) ?? new Set<string>();
        set.add(name);
        unsure.set(connection, set);
      }
    }
  }
}

/** A COMMIT (or END) sent after the command at `index`, which the server then skipped. */
export function commitsAfter(commands: BatchCommand[], index: number): boolean {
  for (let j = index + 1; j < commands.length; j++) if (COMMIT.test(commands[j]!.text)) return true;
  return false;
}

const COMMIT = /^\s*(COMMIT|END)\b/i;

/** Transaction commands and SETs: they answer no rows, so they are sent without a Describe. */
const ROWLESS = /^\s*(BEGIN|COMMIT|ROLLBACK|END|START\s+TRANSACTION|SET|SAVEPOINT|RELEASE)\b/i;

const splits = new Map<string, string[] | null>();
const MAX_SPLITS = 256;

/**
 * The commands of a simple query's text (`BEGIN; SET LOCAL ...`), or null where it cannot be told safely
 * here: dollar quotes, comments or escapes. Semicolons inside quotes do not split.
 */
export function commandsOf(text: string): string[] | null {
  let out = splits.get(text);
  if (out !== undefined) return out;
  out = split(text);
  if (splits.size >= MAX_SPLITS) splits.clear();
  splits.set(text, out);
  return out;
}

function split(text: string): string[] | null {
  const out: string[] = [];
  let quote = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = "";
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (
      ch === "$" ||
      ch === "\\" ||
      (ch === "-" && text[i + 1] === "-") ||
      (ch === "/" && text[i + 1] === "*")
    )
      return null;
    else if (ch === ";") {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quote) return null;
  out.push(text.slice(start));
  const commands = out.map((s) => s.trim()).filter((s) => s.length > 0);
  return commands.length > 0 ? commands : null;
}

export const isRowless = (text: string): boolean => ROWLESS.test(text);
