// Runs enqueued in one statement share created_at, so "in order" needs a tiebreaker: the order in which
// they were inserted. Claims order by available_at, then seq.
export const sql = `
ALTER TABLE skyflow.runs ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;
`;
