// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "pause",
  summary: "(not available yet)",
  usage: "skyflow pause",
  async run(io) {
    io.stderr.write("skyflow pause: not available yet\n");
    return 1;
  },
};
