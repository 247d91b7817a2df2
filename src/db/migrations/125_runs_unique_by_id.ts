// A run's id is derived from its workflow and event id (src/engine/ids.ts runIdFor, version-5 UUIDs), so
// the primary key alone keeps one run per (workflow, event id): the UNIQUE (workflow, event_id) of 002 wrote
// a second, wide entry (both texts) for every run inserted and every non-HOT update of one, for nothing.
// In a record backlog drained through a one-step sql workflow (bench/peers.ts, pg_walinspect over the drain):
// 2 of its 20.7 WAL records a run and 205 of its 3,000 bytes; the largest index of the table (180 pages per
// 10,000 runs, against 83 for the primary key). The enqueue names no conflict target (enqueue.ts): every
// unique index of the table is its arbiter.
//
// Runs stored before ids were derived that way (random ids before 2026-11-29, then SHA-256 digests stamped
// as version 4) do not have the id a new run of their event gets: where any is left, the constraint stays,
// and an event already run before the upgrade still starts nothing.
export const sql = `
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM skyflow.runs WHERE substr(id::text, 15, 1) <> '5') THEN
    ALTER TABLE skyflow.runs DROP CONSTRAINT IF EXISTS runs_workflow_event_id_key;
  END IF;
END $$;
`;
