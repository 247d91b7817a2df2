// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "schema",
  summary: "(not available yet)",
  usage: "skyflow schema",
  async run(io) {
    io.stderr.write("skyflow schema: not available yet\n");
    return 1;
  },
};
