-- FerretDB 1.24 on PostgreSQL keeps each MongoDB index as a btree on (_jsonb -> 'field'), but looks an
-- equality up as (_jsonb -> 'field') @> value, which a btree cannot serve: every lookup scanned the whole
-- table. This event trigger gives each such index a GIN twin (jsonb_path_ops) that serves @>; the server
-- runs with plan_cache_mode = force_custom_plan so that the field name, a parameter, is known when planning.
-- Applied once, when the local stack creates its cluster (deploy/local/stack.py, init_postgres).
CREATE OR REPLACE FUNCTION ferretdb_gin_twin() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  created record;
  statement text;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' LOOP
    SELECT format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s)', left(c.relname, 59) || '_gin',
                  i.indrelid::regclass,
                  string_agg(format('(%s) jsonb_path_ops', pg_get_indexdef(i.indexrelid, k, true)), ', ' ORDER BY k))
      INTO statement
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      CROSS JOIN generate_series(1, i.indnatts) k
     WHERE i.indexrelid = created.objid AND am.amname = 'btree'
       AND pg_get_indexdef(i.indexrelid, 1, true) LIKE '%_jsonb -> %'
     GROUP BY c.relname, i.indrelid;
    IF statement IS NOT NULL THEN
      EXECUTE statement;
    END IF;
  END LOOP;
END $$;

CREATE EVENT TRIGGER ferretdb_gin_twin ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION ferretdb_gin_twin();

