// end_due_sleeps (095) read each call's first batch from two seconds back only, leaving older due sleeps to
// the claim, after its grace. On a machine too loaded for the waker to keep up (bench/park.ts, 10,000 due in
// one second at load 20: it fell two seconds behind), every sleep due more than two seconds before a call
// was left to the claim, which ends sleeps only as the engines have room: the waker then ended none of the
// large case's sleeps. Each call's first batch now reads every due sleep not woken, stepping over the woken
// ones not claimed yet once per call (the batches after it start where the one before ended). And a full
// batch none of which could be ended (their running tries not found) ends the round rather than being read
// again at once until the call's cap. Otherwise as 095.
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
