// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "validate",
  summary: "(not available yet)",
  usage: "skyflow validate",
  async run(io) {
    io.stderr.write("skyflow validate: not available yet\n");
    return 1;
  },
};
