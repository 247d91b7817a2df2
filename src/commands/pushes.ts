// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "pushes",
  summary: "(not available yet)",
  usage: "skyflow pushes",
  async run(io) {
    io.stderr.write("skyflow pushes: not available yet\n");
    return 1;
  },
};
