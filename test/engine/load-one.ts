// Stand-in single-file loader for the reload tests until the definition loader lands: YAML parse errors
// become located problems; the name defaults to the file name.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { FileResult } from "../../src/engine/catalog.js";

export async function loadOne(file: string): Promise<FileResult> {
  const source = await readFile(file, "utf8");
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc });
  if (doc.errors.length) {
    return {
      file,
      problems: doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, path: "", message: e.message };
      }),
    };
  }
  const data = doc.toJS() as { name?: string; on?: { pubsub?: { channel: string } } };
  const name = data.name ?? basename(file, extname(file));
  return {
    file,
    problems: [],
    workflow: {
      name,
      file,
      enabled: true,
      version: createHash("sha256").update(source).digest("hex").slice(0, 12),
      source,
      triggers: [{ kind: "pubsub", channel: data.on?.pubsub?.channel ?? "" }],
      steps: [],
      onFailure: [],
    },
  };
}
