// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "dev",
  summary: "(not available yet)",
  usage: "skyflow dev",
  async run(io) {
    io.stderr.write("skyflow dev: not available yet\n");
    return 1;
  },
};
