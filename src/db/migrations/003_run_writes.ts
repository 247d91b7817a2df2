// Records written by runs' own steps, so the record trigger can tell a run's write from an outside one and
// stop loops: a change matching a row here starts its runs at that row's depth + 1.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.run_writes (
  record_type text NOT NULL,
  record_key text NOT NULL,
  op text NOT NULL,
  updated_at timestamptz,
  run_id uuid NOT NULL,
  depth int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS run_writes_lookup ON skyflow.run_writes (record_type, record_key, created_at DESC);
`;
