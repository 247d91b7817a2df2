// A watched record table that appears while no event trigger can attach it at once (skyflow without
// superuser rights) is attached by the engine's poll, up to a second later, or at the next start. The rows
// written in between would be lost. record_watch now remembers whether the table existed when last looked
// at; a table the watch predates is brand new, and when the poll attaches it, every row it holds is recorded
// as a create, in the transaction that attaches the trigger, with the table locked against writes. Watches
// made before this migration count as having seen their tables (nothing is replayed on upgrade).
export const sql = `
ALTER TABLE skyflow.record_watch ADD COLUMN IF NOT EXISTS table_seen boolean NOT NULL DEFAULT true;

CREATE OR REPLACE FUNCTION skyflow.attach_record_trigger(schema_name text, record_type text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format(
    'CREATE OR REPLACE TRIGGER skyflow_record_change AFTER INSERT OR UPDATE OR DELETE ON %I.%I '
    'FOR EACH ROW EXECUTE FUNCTION skyflow.record_change()', schema_name, record_type);
  UPDATE skyflow.record_watch w SET table_seen = true
  WHERE w.schema_name = attach_record_trigger.schema_name AND w.record_type = attach_record_trigger.record_type
    AND NOT w.table_seen;
END
$fn$;

-- The poll's attach. Returns how many rows of a brand-new table it recorded as creates. Engines racing on the
-- same table serialize on the lock; the later one finds the trigger there and does nothing.
CREATE OR REPLACE FUNCTION skyflow.attach_found_record_table(schema_name text, record_type text) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  seen boolean;
  n integer := 0;
BEGIN
  EXECUTE format('LOCK TABLE %I.%I IN SHARE ROW EXCLUSIVE MODE', schema_name, record_type);
  IF EXISTS (SELECT 1 FROM pg_trigger t
             WHERE t.tgrelid = format('%I.%I', schema_name, record_type)::regclass
               AND t.tgname = 'skyflow_record_change') THEN
    RETURN 0;
  END IF;
  SELECT w.table_seen INTO seen FROM skyflow.record_watch w
  WHERE w.schema_name = attach_found_record_table.schema_name
    AND w.record_type = attach_found_record_table.record_type
  FOR UPDATE;
  IF seen IS NOT NULL AND NOT seen THEN
    EXECUTE format(
      'INSERT INTO skyflow.record_outbox '
      '(op, schema_name, record_type, record_key, database_id, new_row, old_row, txid, at) '
      'SELECT ''insert'', %L, %L, j->>''_id'', coalesce(j->>''_database_id'', ''''), j, NULL, '
      'txid_current(), clock_timestamp() FROM (SELECT to_jsonb(r) AS j FROM %I.%I r) x',
      schema_name, record_type, schema_name, record_type);
    GET DIAGNOSTICS n = ROW_COUNT;
  END IF;
  PERFORM skyflow.attach_record_trigger(schema_name, record_type);
  RETURN n;
END
$fn$;
`;
