// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "start",
  summary: "(not available yet)",
  usage: "skyflow start",
  async run(io) {
    io.stderr.write("skyflow start: not available yet\n");
    return 1;
  },
};
