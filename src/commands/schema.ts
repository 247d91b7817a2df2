// `skyflow schema`: prints the JSON Schema of workflow files (the same document as schema/workflow.schema.json),
// for editors: `# yaml-language-server: $schema=<path or URL of that file>`.
import { jsonSchema } from "../engine/definition/schema.js";
import { defineCommand } from "./args.js";

export const command = defineCommand({
  name: "schema",
  summary: "print the JSON Schema of workflow files, for editor completion and CI",
  usage: "skyflow schema",
  args: { options: {} },
  async run(io) {
    io.stdout.write(schemaText());
    return 0;
  },
});

/** The exact text of schema/workflow.schema.json. */
export function schemaText(): string {
  return `${JSON.stringify(jsonSchema(), null, 2)}\n`;
}
