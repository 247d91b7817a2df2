import { defineConfig } from "vitest/config";

// The fault suite (`npm run faults`): real skyflow processes killed, Postgres restarted, the Skygear server
// and its websocket made to fail. One scenario at a time; sizes through SKYFLOW_FAULTS_* (see test/faults).
export default defineConfig({
  test: {
    include: ["test/faults/**/*.fault.ts"],
    globalSetup: ["test/faults/global-setup.ts"],
    testTimeout: 1_200_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
