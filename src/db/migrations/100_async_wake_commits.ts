// end_due_sleeps (096) committed each batch of ended sleeps synchronously: every batch waited for its WAL
// flush (1.5 to 3.5 ms a commit on the bench machine, longer while other databases of the server write),
// and the sleeps falling due meanwhile waited for the next batch. Its batches now commit asynchronously, as
// the claims do (claim.ts): an ended sleep is a try's end and a wake value, with no effect outside the
// database; anything durable done after it (the claimed run's first save, its step's own commit) flushes the
// WAL up to itself, and with it that batch. A database crash that loses a batch leaves its sleeps due and
// not woken: the next round ends them again. Otherwise as 096.
export const sql = `
CREATE OR REPLACE PROCEDURE skyflow.end_due_sleeps(p_gap_ms int, p_cap_ms int, p_batch int)
LANGUAGE plpgsql AS $$
DECLARE
  n int;
  nd int;
  t timestamptz := clock_timestamp();
  lo timestamptz := '-infinity';
  hi timestamptz;
  nxt timestamptz;
  stop_at timestamptz := t + p_cap_ms * interval '1 millisecond';
BEGIN
  LOOP
    -- Each batch's transaction (a COMMIT starts the next) commits without waiting for its WAL flush.
    PERFORM set_config('synchronous_commit', 'off', true);
    t := clock_timestamp();
    WITH due AS (
      SELECT r.id, r.available_at, r.wait->>'began' AS began, (r.snapshot->>'attempt')::int AS run_attempt,
        r.wait->>'step' AS step_key, (r.snapshot->'steps'->(r.wait->>'step')->>'attempts')::int AS attempt
      FROM skyflow.runs r
      WHERE r.status = 'sleeping' AND r.available_at >= lo AND r.available_at <= t AND r.wake IS NULL
        AND r.lease_owner IS NULL AND r.wait->>'kind' = 'sleep' AND NOT (r.wait ? 'inner')
      ORDER BY r.available_at LIMIT p_batch FOR UPDATE OF r SKIP LOCKED
    ), ended AS (
      UPDATE skyflow.step_tries s SET status = 'succeeded', finished_at = clock_timestamp(),
        output = jsonb_build_object('slept_ms',
          round(greatest(0, extract(epoch FROM clock_timestamp() - d.began::timestamptz) * 1000)))
      FROM due d
      WHERE s.run_id = d.id AND s.run_attempt = d.run_attempt AND s.step_key = d.step_key
        AND s.attempt = d.attempt AND s.status = 'running'
      RETURNING s.run_id, s.output, s.finished_at
    ), woken AS (
      UPDATE skyflow.runs r SET wake = jsonb_build_object('slept', e.output, 'ended_at', e.finished_at),
        updated_at = clock_timestamp()
      FROM ended e WHERE r.id = e.run_id
      RETURNING r.id
    )
    SELECT (SELECT count(*) FROM woken), (SELECT count(*) FROM due), (SELECT max(available_at) FROM due) INTO n, nd, hi;
    IF n > 0 THEN PERFORM pg_notify('skyflow_runs', ''); END IF;
    COMMIT;
    lo := coalesce(hi, lo);
    -- A full batch of which none could be ended (their tries not found) does not go round again.
    CONTINUE WHEN nd >= p_batch AND n > 0 AND clock_timestamp() < stop_at;
    SELECT min(available_at) INTO nxt FROM skyflow.runs
      WHERE status = 'sleeping' AND available_at > t AND wait->>'kind' = 'sleep' AND NOT (wait ? 'inner');
    EXIT WHEN nxt IS NULL OR nxt > t + p_gap_ms * interval '1 millisecond' OR t >= stop_at;
    PERFORM pg_sleep(greatest(0, extract(epoch FROM nxt - clock_timestamp())));
    COMMIT;
  END LOOP;
END
$$;
`;
