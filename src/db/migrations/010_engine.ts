// The engine's durable state beyond the run queue of 002: one row per step try (inputs redacted, output,
// error, timings), and the indexes the claim and the concurrency check use.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.step_tries (
  run_id uuid NOT NULL REFERENCES skyflow.runs (id) ON DELETE CASCADE,
  step_key text NOT NULL,
  attempt int NOT NULL,
  run_attempt int NOT NULL DEFAULT 1,
  kind text NOT NULL,
  status text NOT NULL,
  input jsonb,
  output jsonb,
  error jsonb,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (run_id, run_attempt, step_key, attempt)
);

ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS attempt int NOT NULL DEFAULT 1;

-- Few indexes on purpose: every save of a run changes status and lease columns, so each index here is
-- written on every transition (no HOT updates). Claims use 002's runs_claimable.
CREATE INDEX IF NOT EXISTS runs_in_flight ON skyflow.runs (workflow, concurrency_key)
  WHERE status IN ('running', 'waiting');
`;
