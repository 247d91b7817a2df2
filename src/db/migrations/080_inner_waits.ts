// Waits of inner steps (a sleep, wait_for or call inside a foreach item or a parallel branch, src/engine/tree.ts):
// a run may wait in several steps at once, so `waits` is keyed by (run, step instance key). An inner wait's
// row is not deleted by the event that releases it: the event is kept on the row (`event`), for the run to
// take whether it is parked (the release makes it due) or still executing other items (it reads its rows).
// A released row is no longer looked up. A parked run waiting in several inner calls lists their child runs
// in runs.wait->'children': any of them ending makes it due.
export const sql = `
ALTER TABLE skyflow.waits ADD COLUMN IF NOT EXISTS inner_step boolean NOT NULL DEFAULT false;
ALTER TABLE skyflow.waits ADD COLUMN IF NOT EXISTS event jsonb;
ALTER TABLE skyflow.waits DROP CONSTRAINT IF EXISTS waits_pkey;
ALTER TABLE skyflow.waits ADD PRIMARY KEY (run_id, step_key);
DROP INDEX IF EXISTS skyflow.waits_lookup;
CREATE INDEX waits_lookup ON skyflow.waits (source, expr_id, key) WHERE event IS NULL;

CREATE OR REPLACE FUNCTION skyflow.release_parent() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE skyflow.runs SET available_at = now(), wake = jsonb_build_object('child', NEW.id::text),
         updated_at = now()
   WHERE id = NEW.parent_id AND status = 'waiting'
     AND (wait->>'child' = NEW.id::text OR coalesce(wait->'children', '[]'::jsonb) ? NEW.id::text);
  IF FOUND THEN PERFORM pg_notify('skyflow_runs', ''); END IF;
  RETURN NULL;
END
$fn$;
`;
