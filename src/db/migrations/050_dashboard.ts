// What the dashboard needs of the run table. runs_recent: the newest runs in order (the overview, and the live
// feed's poll for runs started by other daemons) without sorting the whole table; created_at never changes,
// so the engine's saves stay HOT. cancel_requested_at: a cancel asked for a run that another daemon's engine
// executes; every daemon looks for these (an index of the few flagged rows) and the one running it cancels it.
export const sql = `
CREATE INDEX IF NOT EXISTS runs_recent ON skyflow.runs (created_at DESC);
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS cancel_requested_at timestamptz;
CREATE INDEX IF NOT EXISTS runs_cancel_requested ON skyflow.runs (id) WHERE cancel_requested_at IS NOT NULL;
`;
