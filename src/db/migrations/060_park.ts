// Parked runs (src/engine/park): a sleeping or waiting run is a row with status 'sleeping' or 'waiting', what
// it waits for in `wait`, and `available_at` when it is due (its wake time or timeout); no engine holds it.
// The claim that resumes runs whose retry wait is over resumes these too (runs_claimable now covers
// 'sleeping'). `wake` is what released it early (a matching event, its child's end). wait_for registers an
// indexed row in `waits`; `wait_events` keeps the recent events of waited-on sources, so a run parking
// sees the events that arrived since its wait began. A child run ending releases its parent (trigger below).
export const sql = `
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS parent_id uuid;
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS wait jsonb;
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS wake jsonb;
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS output jsonb;
CREATE INDEX IF NOT EXISTS runs_children ON skyflow.runs (parent_id) WHERE parent_id IS NOT NULL;

DROP INDEX IF EXISTS skyflow.runs_claimable;
CREATE INDEX runs_claimable ON skyflow.runs (available_at)
  WHERE status IN ('pending', 'running', 'waiting', 'sleeping');
DROP INDEX IF EXISTS skyflow.runs_in_flight;
CREATE INDEX runs_in_flight ON skyflow.runs (workflow, concurrency_key)
  WHERE status IN ('running', 'waiting', 'sleeping');

-- One row per waiting run: found by (source, the incoming-side expression, the run side's value).
CREATE TABLE IF NOT EXISTS skyflow.waits (
  run_id uuid PRIMARY KEY REFERENCES skyflow.runs (id) ON DELETE CASCADE,
  source text NOT NULL,
  expr_id text NOT NULL,
  key text NOT NULL,
  step_key text NOT NULL,
  match text NOT NULL,
  filter jsonb NOT NULL,
  ctx jsonb NOT NULL,
  until timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS waits_lookup ON skyflow.waits (source, expr_id, key);

-- The incoming-side expressions in use per source: an arriving event evaluates each once.
CREATE TABLE IF NOT EXISTS skyflow.wait_exprs (
  source text NOT NULL,
  expr_id text NOT NULL,
  expr text NOT NULL,
  PRIMARY KEY (source, expr_id)
);

CREATE TABLE IF NOT EXISTS skyflow.wait_events (
  id bigserial PRIMARY KEY,
  source text NOT NULL,
  event jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS wait_events_by_source ON skyflow.wait_events (source, at);

CREATE OR REPLACE FUNCTION skyflow.release_parent() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE skyflow.runs SET available_at = now(), wake = jsonb_build_object('child', NEW.id::text),
         updated_at = now()
   WHERE id = NEW.parent_id AND status = 'waiting' AND wait->>'child' = NEW.id::text;
  IF FOUND THEN PERFORM pg_notify('skyflow_runs', ''); END IF;
  RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS runs_child_end ON skyflow.runs;
CREATE TRIGGER runs_child_end AFTER UPDATE OF status ON skyflow.runs FOR EACH ROW
  WHEN (NEW.parent_id IS NOT NULL AND NEW.status IN ('succeeded', 'failed', 'cancelled')
        AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION skyflow.release_parent();
`;
