// `skyflow start [dir]`: the production daemon. Configuration from env and flags, JSON logs, SIGHUP reloads
// the workflow files, SIGTERM/SIGINT drain gracefully within SKYFLOW_GRACE_MS.
import { runDaemon } from "../main.js";
import type { Command } from "./types.js";

const USAGE =
  "skyflow start [dir] [--port N] [--app-name NAME] [--api-key KEY] [--master-key KEY] [--http-port N]";

export const command: Command = {
  name: "start",
  summary: "run the engine and triggers as a daemon (JSON logs, SIGHUP reloads, graceful SIGTERM)",
  usage: USAGE,
  run: (io) => runDaemon(io, "start", USAGE),
};
