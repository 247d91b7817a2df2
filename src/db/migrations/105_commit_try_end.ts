// The end of a transactional step's try with the run's state after it (store/commit-try.ts) is one SQL
// statement, no longer a call of commit_try_state (migration 090): the UPDATE of the run checks the lease
// and the claim itself, where the function locked the row with a SELECT ... FOR NO KEY UPDATE first (a
// statement and a WAL record more per run) and ran both statements through PL/pgSQL. The statement calls
// this function only when the UPDATE found nothing, to raise the error that rolls the step back.
export const sql = `
CREATE OR REPLACE FUNCTION skyflow.lease_lost(p_run uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'run %: lease lost to another engine or claim', p_run USING ERRCODE = 'SF409';
END $$;
`;
