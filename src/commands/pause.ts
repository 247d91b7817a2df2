// `skyflow pause <workflow>`: its triggers stop starting runs (state in the database, picked up by running
// daemons within a second); runs already queued or in flight finish.
import { defineCommand } from "./args.js";
import { PAUSE_ARGS, pauseOrResume } from "./pause-resume.js";

export const command = defineCommand({
  name: "pause",
  summary: "stop a workflow's triggers from starting runs until `skyflow resume`",
  usage: "skyflow pause <workflow> [--dir DIR]",
  args: PAUSE_ARGS,
  run: (io, args) => pauseOrResume(io, args, true),
});
