// skyflow's own key/value settings (e.g. which app schema the engine serves). Later migrations add the
// run store, the trigger outbox and the cron schedule tables.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`;
