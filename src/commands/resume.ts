// `skyflow resume <workflow>`: its triggers start runs again (picked up by running daemons within a second).
import { pauseOrResume } from "./pause-resume.js";
import type { Command } from "./types.js";

export const command: Command = {
  name: "resume",
  summary: "let a paused workflow's triggers start runs again",
  usage: "usage: skyflow resume <workflow>",
  run: (io) => pauseOrResume(io, false),
};
