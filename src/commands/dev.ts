// `skyflow dev [dir]`: the embedded Postgres and Skygear-compatible server, the engine and triggers, and hot
// reload of the workflows directory, with readable logs. The README's main command.
import { DAEMON_ARGS, runDaemon } from "../main.js";
import { defineCommand } from "./args.js";

export const command = defineCommand({
  name: "dev",
  summary: "run the development server, the engine and the triggers, reloading workflow files on change",
  usage:
    "skyflow dev [dir] [--port N] [--app-name NAME] [--api-key KEY] [--master-key KEY] [--http-port N] [--host 127.0.0.1]",
  args: DAEMON_ARGS,
  run: (io, args) => runDaemon(io, "dev", args),
});
