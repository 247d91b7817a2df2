// Each claim of a run counts (`claims`), and a step's own transaction records its try only under the claim
// it ran under. Without it, an engine whose lease on a run lapsed under load (its tries aborted by the
// fence) and that claimed the run again could see a try of the first claim still committing: commit_try
// checked only the owner, the same engine, so that try committed as the new claim ran the step again (two
// inserts of one sql step). A claim waits for a commit_try holding the run's row (FOR SHARE); one that has
// not reached the row yet now finds the generation moved on and rolls back.
export const sql = `
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS claims int NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION skyflow.commit_try(
  p_run uuid, p_owner text, p_run_attempt int, p_step_key text, p_attempt int, p_kind text, p_output jsonb,
  p_claims int
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM skyflow.runs WHERE id = p_run AND lease_owner = p_owner AND status = 'running'
    AND (p_claims IS NULL OR claims = p_claims) FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'run %: lease lost to another engine or claim', p_run USING ERRCODE = 'SF409';
  END IF;
  INSERT INTO skyflow.step_tries AS s
    (run_id, run_attempt, step_key, attempt, kind, status, input, output, started_at, finished_at)
  VALUES (p_run, p_run_attempt, p_step_key, p_attempt, p_kind, 'succeeded', NULL, p_output, now(),
          clock_timestamp())
  ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE SET
    status = 'succeeded', output = EXCLUDED.output, error = NULL, finished_at = EXCLUDED.finished_at;
END $$;
`;
