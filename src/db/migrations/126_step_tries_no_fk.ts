// A step try's row no longer checks its run's with a foreign key. Every statement that writes a try writes it
// only for a run row the same statement updated (the save batch, store/batch.ts; a sql step's end,
// store/commit-try.ts: joined to the UPDATE's RETURNING, under the run's lease), so the run exists and is
// locked by that transaction until it commits; the key's check per try added nothing but its cost: a
// SELECT ... FOR KEY SHARE of the run's row (through the RI trigger and SPI), which writes a lock WAL record
// on the row version the statement just made. Per run of a record backlog through a one-step sql workflow
// (pg_stat_statements, pg_walinspect): 1 of 18.7 WAL records, 4 buffer hits, 14-17 us of backend time.
//
// What the key's ON DELETE CASCADE did is kept: a run deleted takes its tries with it (a statement trigger
// over the deleted rows), and TRUNCATE of the runs (CASCADE, for the waits) empties the tries too.
export const sql = `
ALTER TABLE skyflow.step_tries DROP CONSTRAINT IF EXISTS step_tries_run_id_fkey;

CREATE OR REPLACE FUNCTION skyflow.runs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM skyflow.step_tries t USING gone g WHERE t.run_id = g.id;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS runs_deleted ON skyflow.runs;
CREATE TRIGGER runs_deleted AFTER DELETE ON skyflow.runs REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION skyflow.runs_deleted();

CREATE OR REPLACE FUNCTION skyflow.runs_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE skyflow.step_tries;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS runs_truncated ON skyflow.runs;
CREATE TRIGGER runs_truncated AFTER TRUNCATE ON skyflow.runs
  FOR EACH STATEMENT EXECUTE FUNCTION skyflow.runs_truncated();
`;
