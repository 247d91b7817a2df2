// The backfill of migration 036 encoded each row as `to_jsonb(r)` over the record table aliased `r`: a record
// field named `r` is a column that wins over the alias, so the outbox got that field's value instead of the
// row. `r.*` always names the table. Same function otherwise.
export const sql = `
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
      'txid_current(), clock_timestamp() FROM (SELECT to_jsonb(r.*) AS j FROM %I.%I r) x',
      schema_name, record_type, schema_name, record_type);
    GET DIAGNOSTICS n = ROW_COUNT;
  END IF;
  PERFORM skyflow.attach_record_trigger(schema_name, record_type);
  RETURN n;
END
$fn$;
`;
