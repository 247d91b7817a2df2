// Bounds on the work one workflow file can cause while it loads: its size, how deep it nests, and how many
// values its aliases and `<<` merges expand to. The YAML walker expands aliases itself (to locate every path),
// so the yaml package's own alias limit does not apply: a 2 KB file of nested aliases once took 15 s and
// 1.5 GB. Each refusal is a problem at a file position. No I/O.
import type { Problem } from "../../errors.js";

export interface YamlLimits {
  /** Largest file accepted, in bytes (SKYFLOW_WORKFLOW_MAX_BYTES). */
  maxBytes: number;
  /** Values produced by expanding aliases and `<<` merges, over the whole file. */
  maxExpanded: number;
  /** Deepest nesting of mappings and lists. */
  maxDepth: number;
}

/**
 * 64 KiB is twenty times a long workflow; parsing that much YAML took up to 0.8 s on a loaded 2-core machine, so a file
 * at the bound still parses in bounded time (see the README, "Limits"). 10,000 expanded values let an
 * anchor of 100 values be reused 100 times; 64 levels is twice what a deep workflow needs.
 */
export const DEFAULT_YAML_LIMITS: YamlLimits = { maxBytes: 64 * 1024, maxExpanded: 10_000, maxDepth: 64 };

export function tooLarge(file: string, bytes: number, limits: YamlLimits): Problem {
  return {
    file,
    line: 1,
    column: 1,
    path: "",
    message: `the file is ${bytes} bytes, more than the limit of ${limits.maxBytes} (SKYFLOW_WORKFLOW_MAX_BYTES); split it into several workflows`,
  };
}

/** A bound was passed while walking the document; carries the offset where it happened. */
export class LimitExceeded {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

export function depthExceeded(offset: number, limits: YamlLimits): LimitExceeded {
  return new LimitExceeded(offset, `nested deeper than ${limits.maxDepth} levels; flatten the structure`);
}

export function expansionExceeded(offset: number, limits: YamlLimits): LimitExceeded {
  return new LimitExceeded(
    offset,
    `aliases and << merges expand to more than ${limits.maxExpanded} values; reuse smaller anchors or write the values out`,
  );
}

/**
 * Where `[`/`{` nesting first passes `limits.maxDepth`, outside quotes and comments, or -1. Checked before
 * the yaml package parses the text: it recurses on flow collections, and a file of nothing but brackets took
 * seconds to fail. A bracket inside a plain or block scalar counts too, which errs on the safe side only for
 * text with that many unclosed brackets.
 */
export function flowDepthOverflow(text: string, limits: YamlLimits): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      if (depth > 0) depth--;
    } else if (c === 0x22 || c === 0x27) {
      i = closingQuote(text, i);
    } else if (c === 0x23 && (i === 0 || /\s/.test(text[i - 1]!))) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end;
    }
  }
  return -1;
}

/** Index of the quote closing the one at `i` (YAML's '' and \" escapes), or the end of the line/text. */
function closingQuote(text: string, i: number): number {
  const q = text[i];
  // A quote inside a plain word (it's, a"b) opens nothing.
  if (i > 0 && /[^\s[{,:-]/.test(text[i - 1]!)) return i;
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (q === '"' && c === "\\") j++;
    else if (c === q) {
      if (q === "'" && text[j + 1] === "'") j++;
      else return j;
    }
  }
  return text.length;
}
