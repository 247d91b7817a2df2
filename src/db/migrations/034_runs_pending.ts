// Claims of new runs take the oldest pending ones. Through runs_claimable (002), which also holds every run
// in flight, each claim first stepped over those: with 200 runs in flight, about 120 index entries read per
// run started (bench/engine.ts). This index holds the pending runs alone, in claim order; a claim leaves it
// at once (status 'running'), so it stays as short as the queue.
export const sql = `
CREATE INDEX IF NOT EXISTS runs_pending ON skyflow.runs (available_at, seq) WHERE status = 'pending';
`;
