// The run queue and store. Triggers insert runs (idempotent on workflow + event id), the engine claims
// them with a lease. The engine's own migrations (010+) add step tries and more columns.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.workflow_versions (
  workflow text NOT NULL,
  version text NOT NULL,
  source text NOT NULL,
  file text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow, version)
);

CREATE TABLE IF NOT EXISTS skyflow.runs (
  id uuid PRIMARY KEY,
  workflow text NOT NULL,
  version text NOT NULL,
  event_id text NOT NULL,
  event jsonb NOT NULL,
  depth int NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'pending',
  concurrency_key text,
  snapshot jsonb,
  error jsonb,
  available_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workflow, event_id)
);
CREATE INDEX IF NOT EXISTS runs_claimable ON skyflow.runs (available_at)
  WHERE status IN ('pending', 'running', 'waiting');
CREATE INDEX IF NOT EXISTS runs_by_workflow ON skyflow.runs (workflow, created_at DESC);
`;
