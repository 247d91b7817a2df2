// A save batch in which a save try ends deletes that try's intents (see store/batch.ts), looked up by run
// id, and run_writes had no index on run_id: each such batch read the whole table, which keeps an hour of
// rows. Only save intents (no updated_at yet) are looked up by run, so only they are indexed.
export const sql = `
CREATE INDEX IF NOT EXISTS run_writes_intents ON skyflow.run_writes (run_id)
  WHERE op = 'save' AND updated_at IS NULL;
`;
