// `skyflow dev [dir]`: the embedded Postgres and Skygear-compatible server, the engine and triggers, and hot
// reload of the workflows directory, with readable logs. The README's main command.
import { runDaemon } from "../main.js";
import type { Command } from "./types.js";

const USAGE =
  "skyflow dev [dir] [--port N] [--app-name NAME] [--api-key KEY] [--master-key KEY] [--http-port N]";

export const command: Command = {
  name: "dev",
  summary: "run the development server, the engine and the triggers, reloading workflow files on change",
  usage: USAGE,
  run: (io) => runDaemon(io, "dev", USAGE),
};
