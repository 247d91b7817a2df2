// The record trigger's storage: the outbox the row trigger writes, the wake flag that keeps NOTIFY off the
// application's commit path when no engine is waiting, and the list of record tables skyflow watches.
export const sql = `
CREATE TABLE IF NOT EXISTS skyflow.record_outbox (
  id bigserial PRIMARY KEY,
  op text NOT NULL,
  schema_name text NOT NULL,
  record_type text NOT NULL,
  record_key text NOT NULL,
  database_id text NOT NULL,
  new_row jsonb,
  old_row jsonb,
  txid bigint NOT NULL,
  at timestamptz NOT NULL
);

-- One row. armed = some engine is idle and wants a NOTIFY for the next change. An engine disarms it while it
-- drains, so busy periods cost the application no NOTIFY (each NOTIFY serializes commits database-wide).
CREATE TABLE IF NOT EXISTS skyflow.record_wake (
  id int PRIMARY KEY CHECK (id = 1),
  armed boolean NOT NULL
);
INSERT INTO skyflow.record_wake (id, armed) VALUES (1, true) ON CONFLICT DO NOTHING;

-- Record tables some engine wants watched; a table created later gets its trigger from the poll or the
-- event trigger (when skyflow may create one).
CREATE TABLE IF NOT EXISTS skyflow.record_watch (
  schema_name text NOT NULL,
  record_type text NOT NULL,
  PRIMARY KEY (schema_name, record_type)
);

CREATE OR REPLACE FUNCTION skyflow.record_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  new_row jsonb;
  old_row jsonb;
  cur jsonb;
  tx bigint := txid_current();
BEGIN
  IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
  cur := coalesce(new_row, old_row);
  INSERT INTO skyflow.record_outbox
    (op, schema_name, record_type, record_key, database_id, new_row, old_row, txid, at)
  VALUES (lower(TG_OP), TG_TABLE_SCHEMA, TG_TABLE_NAME, cur->>'_id', coalesce(cur->>'_database_id', ''),
          new_row, old_row, tx, clock_timestamp());
  -- At most one NOTIFY per transaction, and only when an engine asked for one.
  IF current_setting('skyflow.record_notified', true) IS DISTINCT FROM tx::text THEN
    PERFORM set_config('skyflow.record_notified', tx::text, true);
    IF EXISTS (SELECT 1 FROM skyflow.record_wake WHERE id = 1 AND armed) THEN
      PERFORM pg_notify('skyflow_record', '');
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;

-- Attaches the row trigger to a watched table created after the watch began (called by the event trigger
-- and by the engine's poll).
CREATE OR REPLACE FUNCTION skyflow.attach_record_trigger(schema_name text, record_type text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format(
    'CREATE OR REPLACE TRIGGER skyflow_record_change AFTER INSERT OR UPDATE OR DELETE ON %I.%I '
    'FOR EACH ROW EXECUTE FUNCTION skyflow.record_change()', schema_name, record_type);
END
$fn$;

CREATE OR REPLACE FUNCTION skyflow.on_create_table() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT n.nspname AS sch, c.relname AS tbl
    FROM pg_event_trigger_ddl_commands() d JOIN pg_class c ON c.oid = d.objid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE d.command_tag = 'CREATE TABLE' AND d.object_type = 'table'
  LOOP
    IF EXISTS (SELECT 1 FROM skyflow.record_watch w WHERE w.schema_name = obj.sch
               AND w.record_type = obj.tbl) THEN
      PERFORM skyflow.attach_record_trigger(obj.sch, obj.tbl);
    END IF;
  END LOOP;
END
$fn$;
`;
