// Due sleeps (src/engine/park/waker.ts): an engine whose wake timer finds a top-level sleep about to fall due
// calls skyflow.end_due_sleeps, which ends the sleeps in the database as each falls due, waiting for them
// there (pg_sleep) rather than on a Node timer: a busy engine's event loop does not make them late. Each
// round ends every sleep due (`p_batch` at a time), whatever the engines' capacity: its try ends succeeded
// at that moment with {slept_ms} counted from the wait's begin, and the run becomes runnable ('running', no
// lease, its due time kept as its place in the claim's order, `wake` holding that output for the claim's
// resume); the round commits and notifies the engines. A run whose running try is not found is left to the
// claim (claim.ts takes a sleep itself after a grace). The procedure returns once no sleep falls due within
// `p_gap_ms`, or after `p_cap_ms`. Engines calling it at once share the work (SKIP LOCKED): a sleep ends once.
// runs_sleeping finds due sleeps without stepping over every run in flight or queued (runs_claimable).
export const sql = `
CREATE INDEX IF NOT EXISTS runs_sleeping ON skyflow.runs (available_at) WHERE status = 'sleeping';

CREATE OR REPLACE PROCEDURE skyflow.end_due_sleeps(p_gap_ms int, p_cap_ms int, p_batch int)
LANGUAGE plpgsql AS $$
DECLARE
  n int;
  t timestamptz;
  nxt timestamptz;
  stop_at timestamptz := clock_timestamp() + p_cap_ms * interval '1 millisecond';
BEGIN
  LOOP
    t := clock_timestamp();
    WITH due AS (
      SELECT r.id, r.wait, s.run_attempt, s.step_key, s.attempt FROM skyflow.runs r
      JOIN skyflow.step_tries s ON s.run_id = r.id AND s.step_key = r.wait->>'step' AND s.status = 'running'
        AND s.run_attempt = (r.snapshot->>'attempt')::int
        AND s.attempt = (r.snapshot->'steps'->(r.wait->>'step')->>'attempts')::int
      WHERE r.status = 'sleeping' AND r.available_at <= t AND r.wake IS NULL AND r.lease_owner IS NULL
        AND r.wait->>'kind' = 'sleep' AND NOT (r.wait ? 'inner')
      ORDER BY r.available_at LIMIT p_batch FOR UPDATE OF r SKIP LOCKED
    ), ended AS (
      UPDATE skyflow.step_tries s SET status = 'succeeded', finished_at = clock_timestamp(),
        output = jsonb_build_object('slept_ms',
          round(greatest(0, extract(epoch FROM clock_timestamp() - (d.wait->>'began')::timestamptz) * 1000)))
      FROM due d
      WHERE s.run_id = d.id AND s.run_attempt = d.run_attempt AND s.step_key = d.step_key
        AND s.attempt = d.attempt AND s.status = 'running'
      RETURNING s.run_id, s.output, s.finished_at
    ), woken AS (
      UPDATE skyflow.runs r SET status = 'running',
        wake = jsonb_build_object('slept', e.output, 'ended_at', e.finished_at), updated_at = clock_timestamp()
      FROM ended e WHERE r.id = e.run_id
      RETURNING r.id
    )
    SELECT count(*) INTO n FROM woken;
    IF n > 0 THEN PERFORM pg_notify('skyflow_runs', ''); END IF;
    COMMIT;
    CONTINUE WHEN n >= p_batch AND clock_timestamp() < stop_at;
    -- After \`t\`, not after now: a sleep that fell due since this round's \`t\` is the next one (no wait).
    SELECT min(available_at) INTO nxt FROM skyflow.runs
      WHERE status = 'sleeping' AND available_at > t AND wait->>'kind' = 'sleep' AND NOT (wait ? 'inner');
    EXIT WHEN nxt IS NULL OR nxt > t + p_gap_ms * interval '1 millisecond' OR t >= stop_at;
    PERFORM pg_sleep(greatest(0, extract(epoch FROM nxt - clock_timestamp())));
    COMMIT;
  END LOOP;
END
$$;
`;
