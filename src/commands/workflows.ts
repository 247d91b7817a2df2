// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "workflows",
  summary: "(not available yet)",
  usage: "skyflow workflows",
  async run(io) {
    io.stderr.write("skyflow workflows: not available yet\n");
    return 1;
  },
};
