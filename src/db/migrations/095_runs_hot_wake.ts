// Fewer index entries per run, and due sleeps ended by HOT updates (issue 17's wake at 10,000/s; issue 19's
// cost per run).
//
// An UPDATE that changes no indexed column (a column of any index's key or WHERE) and finds room on its page
// is HOT: one new heap tuple, no index entries. Any other writes an entry in every index whose WHERE the new
// row meets: six for a run in flight (runs_pkey, runs_workflow_event_id_key, runs_by_workflow, runs_recent,
// runs_claimable, runs_in_flight), seven for a sleeping one (runs_sleeping), four for a finished one. `status`
// is in the WHERE of four indexes, so every status change writes them all; snapshot, wait, wake, lease_owner,
// lease_until, started_at, finished_at, updated_at, claims and output are in no index, so a save, a lease
// renewal or a claim of a run already 'running' can be HOT (fillfactor 50, migration 035, leaves room).
// Index by index (EXPLAIN on 100,000 parked runs, see the commit): runs_pkey, runs_workflow_event_id_key
// (the enqueue's idempotency), runs_pending (the claim of new runs), runs_in_flight (the concurrency count),
// runs_sleeping (the waker; without it every look-up for the next sleep steps over the waiting runs due
// first), runs_children and runs_cancel_requested (partial, empty for most runs: free) stay; runs_by_workflow
// (the overview's last run per workflow, runs list --workflow) and runs_recent (the runs list) stay, as
// their reads would otherwise scan every run of a workflow or the table.
//
// runs_claimable no longer holds pending runs: nothing looks for them through it (the claim of new runs reads
// runs_pending in claim order; the claim of runs in flight, RESUMABLE in claim.ts, and the waker's look-ups
// name only running, waiting and sleeping). A run queued pending (a trigger whose engine is full: the record
// backlog) writes five index entries instead of six.
//
// end_due_sleeps (085) no longer changes a woken run's status: it stays 'sleeping' with `wake` holding its
// sleep's end ({slept, ended_at}), and the claim takes such a run at once (claim.ts: a sleeping run with a
// wake value is due). Its UPDATE then touches no indexed column: HOT, where the change to 'running' wrote six
// index entries (EXPLAIN ANALYZE of a 2,000-sleep round with 100,000 parked: 14,600 WAL records for that
// UPDATE, 2,000 now). The claim's change to 'running' writes them later, as for any claimed run, paced by the
// engines' capacity rather than on the way to the sleep's end. Also:
// - the due sleeps are read from the run rows alone (the try's primary key is found by the UPDATE of the
//   try, which looked it up a second time before); a run whose running try is not found is left to the claim;
// - each batch starts where the one before ended (`lo`), and the first 2 s before the call (older ones are
//   the claim's, after its grace): woken runs not claimed yet stay in runs_sleeping until their claim, and
//   each batch would step over all of them;
// - a run is woken once: FOR UPDATE SKIP LOCKED between engines, and `wake IS NULL`.
export const sql = `
DROP INDEX IF EXISTS skyflow.runs_claimable;
CREATE INDEX runs_claimable ON skyflow.runs (available_at)
  WHERE status IN ('running', 'waiting', 'sleeping');

CREATE OR REPLACE PROCEDURE skyflow.end_due_sleeps(p_gap_ms int, p_cap_ms int, p_batch int)
LANGUAGE plpgsql AS $$
DECLARE
  n int;
  nd int;
  t timestamptz := clock_timestamp();
  lo timestamptz := t - interval '2 seconds';
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
    CONTINUE WHEN nd >= p_batch AND clock_timestamp() < stop_at;
    SELECT min(available_at) INTO nxt FROM skyflow.runs
      WHERE status = 'sleeping' AND available_at > t AND wait->>'kind' = 'sleep' AND NOT (wait ? 'inner');
    EXIT WHEN nxt IS NULL OR nxt > t + p_gap_ms * interval '1 millisecond' OR t >= stop_at;
    PERFORM pg_sleep(greatest(0, extract(epoch FROM nxt - clock_timestamp())));
    COMMIT;
  END LOOP;
END
$$;
`;
