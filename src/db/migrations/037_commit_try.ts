// A step whose effect is a transaction on the engine's pool (sql) records its try's success in that same
// transaction, just before its COMMIT (see runner.ts, commitTry): the effect and the record of it commit
// together or not at all, so a resumed run never does that effect twice. The run's row is locked FOR SHARE
// and must still be this engine's: a claim by another engine waits for this transaction, or, committed
// first, makes it fail and roll the step's effect back.
export const sql = `
CREATE OR REPLACE FUNCTION skyflow.commit_try(
  p_run uuid, p_owner text, p_run_attempt int, p_step_key text, p_attempt int, p_kind text, p_output jsonb
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM skyflow.runs WHERE id = p_run AND lease_owner = p_owner AND status = 'running' FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'run %: lease lost to another engine', p_run USING ERRCODE = 'SF409';
  END IF;
  INSERT INTO skyflow.step_tries AS s
    (run_id, run_attempt, step_key, attempt, kind, status, input, output, started_at, finished_at)
  VALUES (p_run, p_run_attempt, p_step_key, p_attempt, p_kind, 'succeeded', NULL, p_output, now(),
          clock_timestamp())
  -- The try's row is there already: the save that began it landed before this (see runner.ts).
  ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE SET
    status = 'succeeded', output = EXCLUDED.output, error = NULL, finished_at = EXCLUDED.finished_at;
END $$;
`;
