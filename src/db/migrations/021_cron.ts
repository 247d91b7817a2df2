// The cron trigger's storage: each schedule's next fire time (claimed by one timer per engine) and every
// fire, unique per workflow and time, so several engines fire each time exactly once.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.cron_schedules (
  workflow text NOT NULL,
  schedule_key text NOT NULL,
  schedule text NOT NULL,
  timezone text NOT NULL,
  catch_up text NOT NULL,
  overlap text NOT NULL,
  version text NOT NULL,
  next_at timestamptz NOT NULL,
  last_fired_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow, schedule_key)
);
CREATE INDEX IF NOT EXISTS cron_schedules_next ON skyflow.cron_schedules (next_at);

CREATE TABLE IF NOT EXISTS skyflow.cron_fires (
  workflow text NOT NULL,
  scheduled_at timestamptz NOT NULL,
  schedule_key text NOT NULL,
  fired_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  fired_by text,
  outcome text NOT NULL,
  run_id uuid,
  PRIMARY KEY (workflow, scheduled_at)
);
CREATE INDEX IF NOT EXISTS cron_fires_fired ON skyflow.cron_fires (fired_at);
`;
