// A transactional step's try (sql) recorded in its own transaction, now with the run's state after it
// (runner.ts, commitTry): when the try ends the run, the run's final state commits with the step's effect,
// so no save follows it (a durable save and a second lock of the run's row less per run); when its begin
// was not saved (a new run's first try: its row is written here, as it ends), the state records the step
// as done, so a resume never runs it again. A crash before the COMMIT leaves neither: the run is claimed
// again and runs the step again, its effect having rolled back with the record. The run's row must still be
// this engine's under the claim the try ran under (migration 070), or nothing commits. Without a state
// (p_snapshot NULL) it is commit_try (migrations 037, 070): the row is only locked FOR SHARE.
//
// The run's row is found by its primary key alone, its lease checked after: with the lease and status in the
// WHERE, the plan (a generic one, with the table's statistics taken while every run was pending, as after a
// record backlog's VACUUM ANALYZE) read the row through runs_in_flight and stepped over every run in flight,
// 200 rows per commit with 200 in flight (EXPLAIN; commit_try's FOR SHARE did the same).
export const sql = `
CREATE OR REPLACE FUNCTION skyflow.commit_try_state(
  p_run uuid, p_owner text, p_claims int, p_run_attempt int, p_step_key text, p_attempt int, p_kind text,
  p_input jsonb, p_output jsonb, p_snapshot jsonb, p_status text, p_error jsonb
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  IF p_snapshot IS NULL THEN
    SELECT lease_owner, status, claims INTO r FROM skyflow.runs WHERE id = p_run FOR SHARE;
  ELSE
    SELECT lease_owner, status, claims INTO r FROM skyflow.runs WHERE id = p_run FOR NO KEY UPDATE;
  END IF;
  IF NOT FOUND OR r.lease_owner IS DISTINCT FROM p_owner OR r.status <> 'running'
     OR (p_claims IS NOT NULL AND r.claims <> p_claims) THEN
    RAISE EXCEPTION 'run %: lease lost to another engine or claim', p_run USING ERRCODE = 'SF409';
  END IF;
  IF p_snapshot IS NOT NULL THEN
    -- As a save of that state does (store/batch.ts), less the lease's extension.
    UPDATE skyflow.runs SET snapshot = p_snapshot, status = p_status, error = p_error,
      lease_owner = CASE WHEN p_status = 'running' THEN lease_owner END,
      lease_until = CASE WHEN p_status = 'running' THEN lease_until END,
      finished_at = CASE WHEN p_status IN ('succeeded', 'failed', 'cancelled') THEN now() END,
      updated_at = now()
    WHERE id = p_run;
  END IF;
  -- started_at: now() is when the step's transaction began, with the try.
  INSERT INTO skyflow.step_tries AS s
    (run_id, run_attempt, step_key, attempt, kind, status, input, output, started_at, finished_at)
  VALUES (p_run, p_run_attempt, p_step_key, p_attempt, p_kind, 'succeeded', p_input, p_output, now(),
          clock_timestamp())
  ON CONFLICT (run_id, run_attempt, step_key, attempt) DO UPDATE SET
    status = 'succeeded', output = EXCLUDED.output, error = NULL, finished_at = EXCLUDED.finished_at,
    input = coalesce(s.input, EXCLUDED.input);
END $$;
`;
