WITH changes AS (
   SELECT (row_number() OVER (ORDER BY o.started_at, o.call_id) - 1) / $2 AS chunk,
          jsonb_build_object('phone', '+' || o.phone, 'project_id', o.project_id,
                             'from', sf.code, 'to', st.code, 'category', st.category,
                             'call_id', o.call_id, 'disposition', o.disposition,
                             'at', o.started_at) AS change
     FROM outcome_new o
     LEFT JOIN number_statuses sf ON sf.tenant_id = $1 AND sf.id = o.status_from
     JOIN number_statuses st ON st.tenant_id = $1 AND st.id = o.status_to
    WHERE o.status_from IS DISTINCT FROM o.status_to
), events AS (
   SELECT gen_random_uuid() AS id, now() AS at, jsonb_agg(change) AS changes
     FROM changes GROUP BY chunk
)
INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event, payload)
SELECT $1, w.id, e.id, 'number.status_changed',
       jsonb_build_object('id', e.id, 'type', 'number.status_changed', 'created_at', e.at,
                          'tenant_id', $1::bigint, 'data', jsonb_build_object('changes', e.changes))
  FROM webhook_subscriptions w CROSS JOIN events e
 WHERE w.tenant_id = $1 AND w.active AND 'number.status_changed' = ANY(w.events)
