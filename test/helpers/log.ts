// A real logger (createLogger, with its redaction) whose JSON lines a test reads back.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log.js";

export function capturedLogger(level: string): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}
