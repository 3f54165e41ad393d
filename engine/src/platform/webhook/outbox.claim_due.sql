WITH due AS (
   SELECT d.tenant_id, d.id FROM webhook_deliveries d
     JOIN webhook_subscriptions w ON w.tenant_id = d.tenant_id AND w.id = d.subscription_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (w.active OR d.event = 'ping')
    ORDER BY d.next_attempt_at LIMIT $1
      FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
   SET next_attempt_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
  FROM due, webhook_subscriptions w
 WHERE d.tenant_id = due.tenant_id AND d.id = due.id
   AND w.tenant_id = d.tenant_id AND w.id = d.subscription_id
RETURNING d.tenant_id, d.id, d.event_id::text, d.event, d.payload::text, d.attempts,
          d.attempts - d.attempts_base, w.url, w.secret
