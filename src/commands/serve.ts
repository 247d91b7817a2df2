// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "serve",
  summary: "(not available yet)",
  usage: "skyflow serve",
  async run(io) {
    io.stderr.write("skyflow serve: not available yet\n");
    return 1;
  },
};
