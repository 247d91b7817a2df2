// `skyflow resume <workflow>`: its triggers start runs again (picked up by running daemons within a second).
import { defineCommand } from "./args.js";
import { PAUSE_ARGS, pauseOrResume } from "./pause-resume.js";

export const command = defineCommand({
  name: "resume",
  summary: "let a paused workflow's triggers start runs again",
  usage: "skyflow resume <workflow> [--dir DIR]",
  args: PAUSE_ARGS,
  run: (io, args) => pauseOrResume(io, args, false),
});
