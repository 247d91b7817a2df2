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

CREATE INDEX IF NOT EXISTS runs_pending_order ON skyflow.runs (available_at, created_at)
  WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS runs_in_flight ON skyflow.runs (workflow, concurrency_key)
  WHERE status IN ('running', 'waiting');
CREATE INDEX IF NOT EXISTS runs_by_lease_owner ON skyflow.runs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_by_status ON skyflow.runs (status, created_at DESC);
`;
