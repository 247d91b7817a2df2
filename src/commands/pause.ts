// `skyflow pause <workflow>`: its triggers stop starting runs (state in the database, picked up by running
// daemons within a second); runs already queued or in flight finish.
import { pauseOrResume } from "./pause-resume.js";
import type { Command } from "./types.js";

export const command: Command = {
  name: "pause",
  summary: "stop a workflow's triggers from starting runs until `skyflow resume`",
  usage: "usage: skyflow pause <workflow>",
  run: (io) => pauseOrResume(io, true),
};
