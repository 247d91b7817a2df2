// Operator state per workflow that outlives restarts: `skyflow pause` / `resume`. A paused workflow is
// loaded and listed but its triggers start nothing; running daemons pick the change up by polling.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.workflow_state (
  workflow text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  changed_at timestamptz NOT NULL DEFAULT now()
);
`;
