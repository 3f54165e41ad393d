INSERT INTO schedules (tenant_id, name, cron, time_zone, kind, system_key)
VALUES (NULL, 'Conversion refresh', '*/5 * * * *', 'UTC', 'conversion_refresh', 'conversion_refresh'),
       (NULL, 'Partition maintenance', '0 3 * * *', 'UTC', 'partition_maintenance', 'partition_maintenance'),
       (NULL, 'Retention', '*/15 * * * *', 'UTC', 'retention', 'retention')
ON CONFLICT (system_key) WHERE system_key IS NOT NULL DO NOTHING;

-- Retention once ran daily; it now also deletes expired export files, which
-- should not wait a day.
UPDATE schedules SET cron = '*/15 * * * *', updated_at = now()
 WHERE system_key = 'retention' AND cron = '30 3 * * *';

INSERT INTO schedules (tenant_id, name, cron, time_zone, kind, args, system_key)
SELECT p.tenant_id, 'Daily allocation: ' || p.name || ' (#' || p.id || ')', '0 0 * * *', p.time_zone,
       'allocation', jsonb_build_object('project_id', p.id), 'allocation:' || p.id
  FROM projects p
 WHERE p.deleted_at IS NULL
ON CONFLICT (system_key) WHERE system_key IS NOT NULL DO UPDATE
   SET name = excluded.name, time_zone = excluded.time_zone, updated_at = now()
 WHERE (schedules.name, schedules.time_zone) IS DISTINCT FROM (excluded.name, excluded.time_zone);

DELETE FROM schedules s
 WHERE s.system_key LIKE 'allocation:%'
   AND NOT EXISTS (SELECT 1 FROM projects p
                    WHERE p.id = (s.args->>'project_id')::bigint AND p.deleted_at IS NULL);
