// A process logging to its stdout through createLogger, for log.test.ts: counts the writes its stdout gets.
// MODE=turns: one line in each of LINES event-loop turns, then reports the writes on stderr once the
// lines are out. MODE=exit: one line, then process.exit at once.
import { createLogger } from "../../src/log.js";

let writes = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string) => {
  writes++;
  return write(chunk);
}) as typeof process.stdout.write;

const log = createLogger({ level: "info", destination: process.stdout });
if (process.env.MODE === "exit") {
  log.info({ n: 1 }, "last words");
  process.exit(0);
}
const lines = Number(process.env.LINES ?? 10);
for (let i = 0; i < lines; i++) {
  log.info({ n: i }, `line ${i}`);
  await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 300));
process.stderr.write(`writes ${writes}\n`);
