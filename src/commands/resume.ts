// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "resume",
  summary: "(not available yet)",
  usage: "skyflow resume",
  async run(io) {
    io.stderr.write("skyflow resume: not available yet\n");
    return 1;
  },
};
