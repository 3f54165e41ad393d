(SELECT at, kind::text, project_id, status_from, status_to, disposition, data, id FROM number_events
  WHERE tenant_id = $1 AND phone = $2 ORDER BY at DESC, id DESC LIMIT 100)
UNION ALL
(SELECT started_at, 'called', project_id, status_from, status_to, disposition,
        jsonb_strip_nulls(jsonb_build_object('call_id', call_id, 'duration_s', duration_s,
                                             'agent', agent, 'source', source)), 0
   FROM call_outcomes WHERE tenant_id = $1 AND phone = $2 ORDER BY started_at DESC LIMIT 100)
UNION ALL
(SELECT x.started_at, 'exported', x.project_id, NULL, NULL, NULL,
        jsonb_build_object('export_id', x.id, 'format', x.format), 0
   FROM export_batches b JOIN exports x ON x.tenant_id = b.tenant_id AND x.id = b.export_id
  WHERE int8range(b.first_phone, b.last_phone, '[]') @> $2::bigint AND b.tenant_id = $1
    AND $2 = ANY(b.phones)
  ORDER BY x.started_at DESC LIMIT 100)
ORDER BY 1 DESC, 8 DESC LIMIT 100
