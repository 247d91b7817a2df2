// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "trigger",
  summary: "(not available yet)",
  usage: "skyflow trigger",
  async run(io) {
    io.stderr.write("skyflow trigger: not available yet\n");
    return 1;
  },
};
