WITH p AS MATERIALIZED (
   SELECT current_setting('dialpool.export_tenant')::bigint AS tenant,
          current_setting('dialpool.export_project')::bigint AS project,
          NULLIF(current_setting('dialpool.export_status'), '')::smallint AS status,
          NULLIF(current_setting('dialpool.export_provider'), '')::bigint AS provider,
          NULLIF(current_setting('dialpool.export_geo'), '')::bigint AS geo,
          NULLIF(current_setting('dialpool.export_allocated_from'), '')::timestamptz AS allocated_from,
          NULLIF(current_setting('dialpool.export_allocated_to'), '')::timestamptz AS allocated_to,
          NULLIF(current_setting('dialpool.export_attempts_min'), '')::smallint AS attempts_min,
          NULLIF(current_setting('dialpool.export_attempts_max'), '')::smallint AS attempts_max,
          NULLIF(current_setting('dialpool.export_limit'), '')::bigint AS row_limit
)
