// YAML syntax errors as problems, at most one per line, with a hint when the line shows a known trap (an
// unquoted ": ", an expression inside [ ] or { }, a tab). No I/O.
import type { Document } from "yaml";
import type { Problem } from "../../errors.js";
import type { Position } from "./yaml.js";

/** YAML syntax errors, at most one per line, with a hint when the line shows a known trap. */
export function yamlErrors(
  file: string,
  text: string,
  doc: Document,
  pos: (o: number) => Position,
  pathOf: (offset: number) => string,
): Problem[] {
  const lines = text.split("\n");
  const seen = new Set<number>();
  const out: Problem[] = [];
  for (const err of doc.errors) {
    const p = pos(err.pos[0]);
    if (seen.has(p.line)) continue;
    seen.add(p.line);
    const lineText = lines[p.line - 1] ?? "";
    const hint = yamlHint(err.code, lineText, err.message);
    const message = `YAML syntax error: ${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "")}`;
    out.push({ file, ...p, path: pathOf(err.pos[0]), message: hint ? `${message}; ${hint}` : message });
  }
  return out;
}

function yamlHint(code: string, line: string, message: string): string {
  const value = /^\s*(?:-\s+)?[^\s:#][^:#]*:\s+(.*)$/.exec(line)?.[1] ?? line.trim();
  if (/\$\{\{/.test(line) && /[[{]/.test(line.replace(/\$\{\{[\s\S]*?\}\}/g, ""))) {
    return 'an expression inside [ ] or { } must be quoted: "${{ ... }}"';
  }
  if (/\$\{\{/.test(value) && value.includes(": ")) return 'quote the whole value: "${{ ... }}"';
  if (code === "BLOCK_AS_IMPLICIT_KEY" || (code === "MULTILINE_IMPLICIT_KEY" && value.includes(": "))) {
    return `a value containing ": " must be quoted, e.g. "${value.replace(/"/g, '\\"')}"`;
  }
  if (/^[[{]/.test(value) && code === "UNEXPECTED_TOKEN") {
    return `a value starting with "${value[0]}" is read as a ${value[0] === "[" ? "list" : "mapping"}; quote the whole value`;
  }
  if (code === "MISSING_CHAR" && /quote/.test(message)) return "a quoted value needs its closing quote";
  if (code === "TAB_AS_INDENT") return "indent with spaces";
  if (code === "DUPLICATE_KEY") return "each key may appear once in a mapping";
  return "";
}
