// Placeholder while the command is being built; replaced by its implementation.
import type { Command } from "./types.js";

export const command: Command = {
  name: "runs",
  summary: "(not available yet)",
  usage: "skyflow runs",
  async run(io) {
    io.stderr.write("skyflow runs: not available yet\n");
    return 1;
  },
};
