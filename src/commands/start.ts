// `skyflow start [dir]`: the production daemon. Configuration from env and flags, JSON logs, SIGHUP reloads
// the workflow files, SIGTERM/SIGINT drain gracefully within SKYFLOW_GRACE_MS.
import { DAEMON_ARGS, runDaemon } from "../main.js";
import { defineCommand } from "./args.js";

export const command = defineCommand({
  name: "start",
  summary: "run the engine and triggers as a daemon (JSON logs, SIGHUP reloads, graceful SIGTERM)",
  usage:
    "skyflow start [dir] [--port N] [--app-name NAME] [--api-key KEY] [--master-key KEY] [--http-port N] [--host 127.0.0.1]",
  args: DAEMON_ARGS,
  run: (io, args) => runDaemon(io, "start", args),
});
